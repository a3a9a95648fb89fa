//! The builtin functions of LANGUAGE.md §11 and the methods of strings, lists and maps.
//!
//! Invariant: a builtin never runs the collector itself; when it calls back into toy code
//! (a sort key) that code runs with collection held off (`Vm::call_value`), so values a
//! builtin keeps in Rust locals stay valid. Every argument is checked and a bad one throws
//! a `TypeError`/`ValueError` naming the function — nothing a script passes can panic here.

use crate::format::{FmtArg, format_value};
use crate::object::{MapObj, Obj, RangeObj};
use crate::ops::{self, normalize_index};
use crate::value::{MapKey, ObjId, Value};
use crate::vm::{Interp, Thrown, Vm, VmResult};
use std::cmp::Ordering;
use std::fmt::Display;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

type R = VmResult<Value>;

/// A method's name for messages (`list.append`), formatted only when an error needs it.
#[derive(Clone, Copy)]
struct MethodName<'a>(&'a str, &'a str);

impl Display for MethodName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// The signature of a builtin written in this file.
type Native = fn(&mut Vm, &[Value]) -> R;

/// The methods of a map. `m.name(...)` calls one of these if `name` is one, else the value
/// stored under the key `"name"`; the names live only in `parse`, so the VM's test and
/// `map_method`'s dispatch cannot disagree.
#[derive(Clone, Copy, PartialEq)]
enum MapMethod {
    Keys,
    Values,
    Items,
    Get,
    Pop,
}

impl MapMethod {
    /// A `match`, not a list scan: it runs on every call of a function stored in a map.
    #[inline]
    fn parse(name: &str) -> Option<MapMethod> {
        match name {
            "keys" => Some(MapMethod::Keys),
            "values" => Some(MapMethod::Values),
            "items" => Some(MapMethod::Items),
            "get" => Some(MapMethod::Get),
            "pop" => Some(MapMethod::Pop),
            _ => None,
        }
    }
}

/// Whether `m.name(...)` calls a map method rather than an entry.
#[inline]
pub fn is_map_method(name: &str) -> bool {
    MapMethod::parse(name).is_some()
}

/// Binds every core builtin as a global.
pub fn install(it: &mut Interp) {
    let table: &[(&str, Native)] = &[
        ("print", print),
        ("len", len),
        ("str", str_),
        ("int", int),
        ("float", float),
        ("type", type_),
        ("abs", abs),
        ("min", min),
        ("max", max),
        ("sum", sum),
        ("sorted", sorted),
        ("sqrt", sqrt),
        ("floor", floor),
        ("round", round),
        ("range", range),
        ("format", format),
        ("assert", assert),
        ("error", error),
        ("time", time),
        ("clock", clock),
        ("sleep", sleep),
        ("argv", argv),
        ("read_file", read_file),
        ("write_file", write_file),
        ("exit", exit),
        ("spawn", crate::threads::spawn),
        ("thread_id", thread_id),
        ("cpu_count", cpu_count),
        ("Lock", lock),
        ("Queue", queue),
        ("set_switch_interval", set_switch_interval),
        ("switch_interval", switch_interval),
        ("gil_policy", gil_policy),
        ("gil_stats", gil_stats),
        ("tcp_listen", tcp_listen),
        ("tcp_connect", tcp_connect),
        ("spawn_process", crate::process::spawn_process),
        ("parent", parent),
        ("pmap", pmap),
    ];
    for (name, f) in table {
        it.register(name, Rc::new(*f));
    }
    let echo = it.register_hidden("<echo>", Rc::new(repl_echo));
    it.repl_print = Some(echo);
}

// ---- argument helpers ----------------------------------------------------------------

fn arity(vm: &mut Vm, name: impl Display + Copy, args: &[Value], min: usize, max: usize) -> VmResult<()> {
    let n = args.len();
    if n >= min && n <= max {
        return Ok(());
    }
    let plural = |k: usize| if k == 1 { "argument" } else { "arguments" };
    let want = if min == max {
        format!("{min} {}", plural(min))
    } else if max == usize::MAX {
        format!("at least {min} {}", plural(min))
    } else {
        format!("from {min} to {max} arguments")
    };
    let was = if n == 1 { "was" } else { "were" };
    Err(vm.type_error(format!("{name}() takes {want} but {n} {was} given")))
}

fn int_arg(vm: &mut Vm, name: impl Display + Copy, v: Value) -> VmResult<i64> {
    match v {
        Value::Int(i) => Ok(i),
        other => {
            let t = other.type_name(&vm.it.heap);
            Err(vm.type_error(format!("{name}() expected an int, got {t}")))
        }
    }
}

fn num_arg(vm: &mut Vm, name: impl Display + Copy, v: Value) -> VmResult<f64> {
    match v {
        Value::Int(i) => Ok(i as f64),
        Value::Float(f) => Ok(f.get()),
        other => {
            let t = other.type_name(&vm.it.heap);
            Err(vm.type_error(format!("{name}() expected a number, got {t}")))
        }
    }
}

fn str_arg(vm: &mut Vm, name: impl Display + Copy, v: Value) -> VmResult<Rc<str>> {
    match v {
        Value::Str(id) => Ok(vm.it.heap.str_rc(id).clone()),
        other => {
            let t = other.type_name(&vm.it.heap);
            Err(vm.type_error(format!("{name}() expected a str, got {t}")))
        }
    }
}

/// The items of anything `for` can walk, as a vector.
pub fn items_of(vm: &mut Vm, name: impl Display + Copy, v: Value) -> VmResult<Vec<Value>> {
    match v {
        Value::List(id) => Ok(vm.it.heap.list(id).clone()),
        Value::Str(id) => {
            let s = vm.it.heap.str_rc(id).clone();
            Ok(s.chars().map(|c| vm.char_str(c)).collect())
        }
        Value::Map(id) => {
            let keys: Vec<_> = vm.it.heap.map(id).keys().cloned().collect();
            Ok(keys.iter().map(|k| vm.it.heap.key_value(k)).collect())
        }
        Value::Obj(id) => match vm.it.heap.get(id) {
            Obj::Range(r) => {
                let r = *r;
                if r.len() > 100_000_000 {
                    return Err(vm.error("OverflowError", format!("{name}(): range too large")));
                }
                Ok((0..r.len()).map(|i| Value::Int(r.start + i * r.step)).collect())
            }
            _ => not_iterable(vm, name, v),
        },
        _ => not_iterable(vm, name, v),
    }
}

fn not_iterable<T>(vm: &mut Vm, name: impl Display + Copy, v: Value) -> VmResult<T> {
    let t = v.type_name(&vm.it.heap);
    Err(vm.type_error(format!("{name}(): '{t}' object is not iterable")))
}

// ---- the builtins --------------------------------------------------------------------

fn print(vm: &mut Vm, args: &[Value]) -> R {
    let mut line = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        line.push_str(&vm.it.heap.display(*a));
    }
    line.push('\n');
    vm.write_output(&line);
    Ok(Value::Nil)
}

fn repl_echo(vm: &mut Vm, args: &[Value]) -> R {
    if let Some(&v) = args.first()
        && !matches!(v, Value::Nil)
    {
        let line = format!("{}\n", vm.it.heap.repr(v));
        vm.write_output(&line);
    }
    Ok(Value::Nil)
}

fn len(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "len", args, 1, 1)?;
    let n = match args[0] {
        Value::Str(id) => vm.it.heap.str_obj(id).chars as i64,
        Value::List(id) => vm.it.heap.list(id).len() as i64,
        Value::Map(id) => vm.it.heap.map(id).len() as i64,
        Value::Obj(id) => match vm.it.heap.get(id) {
            Obj::Range(r) => r.len(),
            _ => return no_len(vm, args[0]),
        },
        other => return no_len(vm, other),
    };
    Ok(Value::Int(n))
}

fn no_len(vm: &mut Vm, v: Value) -> R {
    let t = v.type_name(&vm.it.heap);
    Err(vm.type_error(format!("object of type '{t}' has no len()")))
}

fn str_(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "str", args, 0, 1)?;
    match args.first() {
        None => Ok(vm.new_str("")),
        Some(v @ Value::Str(_)) => Ok(*v),
        Some(Value::Int(i)) => Ok(vm.new_str(int_text(*i, &mut [0u8; 20]))),
        Some(v) => {
            let s = vm.it.heap.display(*v);
            Ok(vm.new_str(s))
        }
    }
}

/// An int's decimal text, written into `buf` (no heap allocation: `str(i)` is hot).
fn int_text(i: i64, buf: &mut [u8; 20]) -> &str {
    let mut n = i.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    std::str::from_utf8(&buf[at..]).unwrap_or("")
}

/// A float that is an exact int in range, or the error Python gives for it.
fn float_to_int(vm: &mut Vm, f: f64) -> R {
    if f.is_nan() {
        return Err(vm.error("ValueError", "cannot convert float NaN to integer"));
    }
    if f.is_infinite() {
        return Err(vm.error("OverflowError", "cannot convert float infinity to integer"));
    }
    let t = f.trunc();
    if !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&t) {
        return Err(vm.error("OverflowError", "integer overflow"));
    }
    Ok(Value::Int(t as i64))
}

fn int(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "int", args, 1, 1)?;
    match args[0] {
        Value::Int(i) => Ok(Value::Int(i)),
        Value::Bool(b) => Ok(Value::Int(b.get() as i64)),
        Value::Float(f) => float_to_int(vm, f.get()),
        Value::Str(id) => {
            let text = vm.it.heap.str(id).to_string();
            match parse_int(&text) {
                Some(Ok(i)) => Ok(Value::Int(i)),
                Some(Err(())) => Err(vm.error("OverflowError", "integer overflow")),
                None => {
                    let q = crate::format::quote_str(&text);
                    Err(vm.error("ValueError", format!("invalid literal for int(): {q}")))
                }
            }
        }
        other => {
            let t = other.type_name(&vm.it.heap);
            Err(vm.type_error(format!("int() can't convert {t}")))
        }
    }
}

/// Python's `int(str)`: optional sign, digits with single underscores between them,
/// surrounding whitespace. Some(Err) when the digits do not fit 64 bits.
fn parse_int(text: &str) -> Option<Result<i64, ()>> {
    let t = text.trim();
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    if !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    let mut acc: i128 = 0;
    for b in clean.bytes() {
        acc = acc * 10 + (b - b'0') as i128;
        if acc > i64::MAX as i128 + 1 {
            return Some(Err(()));
        }
    }
    let v = if neg { -acc } else { acc };
    Some(i64::try_from(v).map_err(|_| ()))
}

fn float(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "float", args, 1, 1)?;
    match args[0] {
        Value::Int(i) => Ok(Value::float(i as f64)),
        Value::Float(f) => Ok(Value::Float(f)),
        Value::Bool(b) => Ok(Value::float(b.get() as i64 as f64)),
        Value::Str(id) => {
            let text = vm.it.heap.str(id).to_string();
            match parse_float(&text) {
                Some(f) => Ok(Value::float(f)),
                None => {
                    let q = crate::format::quote_str(&text);
                    Err(vm.error("ValueError", format!("could not convert string to float: {q}")))
                }
            }
        }
        other => {
            let t = other.type_name(&vm.it.heap);
            Err(vm.type_error(format!("float() can't convert {t}")))
        }
    }
}

/// Python's `float(str)`: decimal or exponent forms, `inf`, `nan`, underscores between
/// digits, surrounding whitespace.
fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim();
    let body = t.trim_start_matches(['+', '-']);
    if t.len() - body.len() > 1 {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        let v = if lower == "nan" { f64::NAN } else { f64::INFINITY };
        return Some(if t.starts_with('-') { -v } else { v });
    }
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit() || b"._eE+-".contains(&b)) {
        return None;
    }
    if body.contains("__") || body.starts_with('_') || body.ends_with('_') {
        return None;
    }
    let clean: String = t.chars().filter(|&c| c != '_').collect();
    clean.parse::<f64>().ok()
}

fn type_(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "type", args, 1, 1)?;
    let t = args[0].type_name(&vm.it.heap);
    Ok(vm.new_str(t))
}

fn abs(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "abs", args, 1, 1)?;
    match args[0] {
        Value::Int(i) => i
            .checked_abs()
            .map(Value::Int)
            .ok_or_else(|| vm.error("OverflowError", "integer overflow")),
        Value::Float(f) => Ok(Value::float(f.get().abs())),
        other => {
            let t = other.type_name(&vm.it.heap);
            Err(vm.type_error(format!("bad operand type for abs(): '{t}'")))
        }
    }
}

fn extreme(vm: &mut Vm, name: impl Display + Copy, args: &[Value], want: Ordering) -> R {
    arity(vm, name, args, 1, usize::MAX)?;
    let items = if args.len() == 1 {
        items_of(vm, name, args[0])?
    } else {
        args.to_vec()
    };
    let Some(mut best) = items.first().copied() else {
        return Err(vm.error("ValueError", format!("{name}() arg is an empty sequence")));
    };
    for &v in &items[1..] {
        if ops::compare(vm, v, best, "<")? == want {
            best = v;
        }
    }
    Ok(best)
}

fn min(vm: &mut Vm, args: &[Value]) -> R {
    extreme(vm, "min", args, Ordering::Less)
}

fn max(vm: &mut Vm, args: &[Value]) -> R {
    extreme(vm, "max", args, Ordering::Greater)
}

fn sum(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "sum", args, 1, 2)?;
    let mut acc = args.get(1).copied().unwrap_or(Value::Int(0));
    if let Value::Obj(id) = args[0]
        && let Obj::Range(r) = vm.it.heap.get(id)
    {
        let r = *r;
        let n = r.len() as i128;
        let total = n * r.start as i128 + r.step as i128 * n * (n - 1) / 2;
        let total = i64::try_from(total).map_err(|_| vm.error("OverflowError", "integer overflow"))?;
        return ops::add(vm, acc, Value::Int(total));
    }
    if let Value::List(id) = args[0] {
        let n = vm.it.heap.list(id).len();
        for i in 0..n {
            let Some(&v) = vm.it.heap.list(id).get(i) else { break };
            acc = match ops::add_fast(&acc, &v) {
                Some(x) => x,
                None => sum_step(vm, acc, v)?,
            };
        }
        return Ok(acc);
    }
    for v in items_of(vm, "sum", args[0])? {
        acc = sum_step(vm, acc, v)?;
    }
    Ok(acc)
}

fn sum_step(vm: &mut Vm, acc: Value, v: Value) -> R {
    if matches!(acc, Value::Str(_)) || matches!(v, Value::Str(_)) {
        return Err(vm.type_error("sum() can't sum strings (use \"\".join(items) instead)"));
    }
    ops::add(vm, acc, v)
}

/// A stable sort of `items`, by `key(item)` when a key function is given.
fn sort_values(vm: &mut Vm, name: impl Display + Copy, items: Vec<Value>, key: Option<Value>) -> VmResult<Vec<Value>> {
    let keys = match key {
        Some(Value::Nil) | None => items.clone(),
        Some(f) => {
            let mut keys = Vec::with_capacity(items.len());
            for &v in &items {
                keys.push(vm.call_value(f, &[v])?);
            }
            keys
        }
    };
    let mut order: Vec<usize> = (0..items.len()).collect();
    let mut failure = None;
    let heap = &vm.it.heap;
    order.sort_by(|&a, &b| {
        if failure.is_some() {
            return Ordering::Equal;
        }
        heap.compare(keys[a], keys[b], 0).unwrap_or_else(|e| {
            failure = Some(e);
            Ordering::Equal
        })
    });
    if let Some(e) = failure {
        return Err(match e {
            crate::compare::CompareError::Unorderable(a, b) => vm.type_error(format!(
                "{name}(): '<' not supported between instances of '{a}' and '{b}'"
            )),
            crate::compare::CompareError::TooDeep => {
                vm.error("RecursionError", "maximum recursion depth exceeded in comparison")
            }
        });
    }
    Ok(order.into_iter().map(|i| items[i]).collect())
}

fn sorted(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "sorted", args, 1, 2)?;
    let items = items_of(vm, "sorted", args[0])?;
    let out = sort_values(vm, "sorted", items, args.get(1).copied())?;
    Ok(vm.it.heap.new_list(out))
}

fn sqrt(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "sqrt", args, 1, 1)?;
    let x = num_arg(vm, "sqrt", args[0])?;
    if x < 0.0 {
        return Err(vm.error("ValueError", "math domain error"));
    }
    Ok(Value::float(x.sqrt()))
}

fn floor(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "floor", args, 1, 1)?;
    match args[0] {
        Value::Int(i) => Ok(Value::Int(i)),
        v => {
            let f = num_arg(vm, "floor", v)?;
            float_to_int(vm, f.floor())
        }
    }
}

fn round(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "round", args, 1, 2)?;
    let digits = match args.get(1) {
        None | Some(Value::Nil) => None,
        Some(&d) => Some(int_arg(vm, "round", d)?),
    };
    match (args[0], digits) {
        (Value::Int(i), None) => Ok(Value::Int(i)),
        (Value::Int(i), Some(d)) if d >= 0 => Ok(Value::Int(i)),
        (Value::Int(i), Some(d)) => {
            if d < -18 {
                return Ok(Value::Int(0));
            }
            let p = 10i128.pow((-d) as u32);
            let (q, r) = ((i as i128).div_euclid(p), (i as i128).rem_euclid(p));
            let q = if 2 * r > p || (2 * r == p && q % 2 != 0) {
                q + 1
            } else {
                q
            };
            i64::try_from(q * p)
                .map(Value::Int)
                .map_err(|_| vm.error("OverflowError", "integer overflow"))
        }
        (Value::Float(f), None) => float_to_int(vm, f.get().round_ties_even()),
        (Value::Float(f), Some(d)) => {
            let f = f.get();
            if !f.is_finite() || d > 300 {
                return Ok(Value::float(f));
            }
            if d >= 0 {
                // Rounding the exact binary value in decimal, as Python does.
                let text = format!("{:.*}", d as usize, f);
                return Ok(Value::float(text.parse().unwrap_or(f)));
            }
            let p = 10f64.powi((-d).min(308) as i32);
            Ok(Value::float((f / p).round_ties_even() * p))
        }
        (other, _) => {
            let t = other.type_name(&vm.it.heap);
            Err(vm.type_error(format!("round() expected a number, got {t}")))
        }
    }
}

fn range(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "range", args, 1, 3)?;
    let mut n = [0i64; 3];
    for (i, a) in args.iter().enumerate() {
        n[i] = int_arg(vm, "range", *a)?;
    }
    let r = match args.len() {
        1 => RangeObj {
            start: 0,
            stop: n[0],
            step: 1,
        },
        2 => RangeObj {
            start: n[0],
            stop: n[1],
            step: 1,
        },
        _ => RangeObj {
            start: n[0],
            stop: n[1],
            step: n[2],
        },
    };
    if r.step == 0 {
        return Err(vm.error("ValueError", "range() arg 3 must not be zero"));
    }
    Ok(vm.new_range(r))
}

fn format(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "format", args, 1, 2)?;
    let spec = match args.get(1) {
        Some(&s) => str_arg(vm, "format", s)?,
        None => "".into(),
    };
    let text = match args[0] {
        Value::Int(i) => format_value(FmtArg::Int(i), &spec),
        Value::Float(f) => format_value(FmtArg::Float(f.get()), &spec),
        Value::Bool(b) => format_value(FmtArg::Bool(b.get()), &spec),
        Value::Nil => format_value(FmtArg::Nil, &spec),
        Value::Str(id) => {
            let s = vm.it.heap.str_rc(id).clone();
            format_value(FmtArg::Str(&s), &spec)
        }
        other => {
            let s = vm.it.heap.display(other);
            format_value(FmtArg::Str(&s), &spec)
        }
    };
    match text {
        Ok(t) => Ok(vm.new_str(t)),
        Err(msg) => Err(vm.error("ValueError", msg)),
    }
}

fn assert(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "assert", args, 1, 2)?;
    if args[0].truthy(&vm.it.heap) {
        return Ok(Value::Nil);
    }
    let msg = match args.get(1) {
        Some(&m) => vm.it.heap.display(m),
        None => "assertion failed".to_string(),
    };
    Err(vm.error("AssertionError", msg))
}

fn error(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "error", args, 1, 2)?;
    let (kind, msg) = match args {
        [m] => ("Error".to_string(), vm.it.heap.display(*m)),
        _ => {
            let kind = str_arg(vm, "error", args[0])?.to_string();
            (kind, vm.it.heap.display(args[1]))
        }
    };
    Ok(vm.it.heap.new_error(&kind, &msg))
}

fn time(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "time", args, 0, 0)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    Ok(Value::float(now))
}

/// The process's monotonic clock origin.
pub fn clock_origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

fn clock(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "clock", args, 0, 0)?;
    Ok(Value::float(clock_origin().elapsed().as_secs_f64()))
}

fn sleep(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "sleep", args, 1, 1)?;
    let secs = num_arg(vm, "sleep", args[0])?;
    if secs.is_nan() || secs < 0.0 {
        return Err(vm.error("ValueError", "sleep length must be non-negative"));
    }
    let pause = std::time::Duration::from_secs_f64(secs.min(1e9));
    if vm.thread_id() != crate::gil::ThreadId::MAIN {
        vm.release(move || std::thread::sleep(pause));
        return Ok(Value::Nil);
    }
    // A signal nobody bumps: the wait ends at the deadline, or early on Ctrl-C.
    let never = std::sync::Arc::new(crate::signal::Signal::default());
    crate::threads::wait(vm, &never, never.generation(), Some(Instant::now() + pause))?;
    Ok(Value::Nil)
}

fn argv(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "argv", args, 0, 0)?;
    let items: Vec<Value> = vm.it.argv.clone().into_iter().map(|a| vm.new_str(a)).collect();
    Ok(vm.it.heap.new_list(items))
}

fn read_file(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "read_file", args, 1, 1)?;
    let path = str_arg(vm, "read_file", args[0])?;
    let p = path.to_string();
    match vm.release(move || std::fs::read(p)) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(s) => Ok(vm.new_str(s)),
            Err(_) => Err(vm.error("IOError", format!("{path}: file is not valid UTF-8"))),
        },
        Err(e) => Err(vm.error("IOError", format!("{path}: {}", io_message(&e)))),
    }
}

fn write_file(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "write_file", args, 2, 2)?;
    let path = str_arg(vm, "write_file", args[0])?;
    let text = str_arg(vm, "write_file", args[1])?;
    let (p, t) = (path.to_string(), text.to_string());
    match vm.release(move || std::fs::write(p, t.as_bytes())) {
        Ok(()) => Ok(Value::Nil),
        Err(e) => Err(vm.error("IOError", format!("{path}: {}", io_message(&e)))),
    }
}

/// An I/O error's description without Rust's "(os error N)" suffix.
pub fn io_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn exit(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "exit", args, 0, 1)?;
    let code = match args.first() {
        None | Some(Value::Nil) => 0,
        Some(&c) => int_arg(vm, "exit", c)?,
    };
    Err(Box::new(Thrown {
        value: Value::Nil,
        traceback: Vec::new(),
        traced: true,
        exit: Some(code as i32),
    }))
}

// ---- `with` --------------------------------------------------------------------------

fn as_lock(vm: &Vm, v: Value) -> Option<ObjId> {
    match v {
        Value::Obj(id) if matches!(vm.it.heap.get(id), Obj::Lock(_)) => Some(id),
        _ => None,
    }
}

pub fn with_enter(vm: &mut Vm, subject: Value) -> VmResult<()> {
    match as_lock(vm, subject) {
        Some(id) => crate::threads::acquire(vm, id, None).map(|_| ()),
        None => {
            let t = subject.type_name(&vm.it.heap);
            Err(vm.type_error(format!("'{t}' object cannot be used in 'with' (it needs a lock)")))
        }
    }
}

pub fn with_exit(vm: &mut Vm, subject: Value) -> VmResult<()> {
    match as_lock(vm, subject) {
        Some(id) => crate::threads::release_lock(vm, id),
        None => Ok(()),
    }
}

// ---- threads and the GIL -------------------------------------------------------------

fn thread_id(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "thread_id", args, 0, 0)?;
    Ok(Value::Int(vm.thread_id().get() as i64))
}

fn cpu_count(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "cpu_count", args, 0, 0)?;
    Ok(Value::Int(
        std::thread::available_parallelism().map_or(1, |n| n.get()) as i64
    ))
}

fn lock(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "Lock", args, 0, 0)?;
    Ok(crate::threads::new_lock(vm))
}

fn queue(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "Queue", args, 0, 1)?;
    let maxsize = match args.first() {
        None | Some(Value::Nil) => 0,
        Some(&m) => int_arg(vm, "Queue", m)?.max(0) as usize,
    };
    Ok(crate::threads::new_queue(vm, maxsize))
}

fn set_switch_interval(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "set_switch_interval", args, 1, 1)?;
    let secs = num_arg(vm, "set_switch_interval", args[0])?;
    if !(secs > 0.0 && secs < 1e6) {
        return Err(vm.error("ValueError", "switch interval must be a positive number of seconds"));
    }
    vm.it
        .gil()
        .set_switch_interval(std::time::Duration::from_secs_f64(secs));
    Ok(Value::Nil)
}

fn switch_interval(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "switch_interval", args, 0, 0)?;
    Ok(Value::float(vm.it.gil().switch_interval().as_secs_f64()))
}

fn gil_policy(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "gil_policy", args, 0, 0)?;
    let name = vm.it.gil().policy_name();
    Ok(vm.new_str(name))
}

/// `gil_stats()`: totals and, per thread id, acquisitions and times in seconds.
fn gil_stats(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "gil_stats", args, 0, 0)?;
    let stats = vm.it.gil().stats();
    let mut per_thread = MapObj::default();
    for t in &stats.threads {
        let mut row = MapObj::default();
        row.insert(MapKey::Str("acquisitions".into()), Value::Int(t.acquisitions as i64));
        row.insert(MapKey::Str("hold_s".into()), Value::float(t.hold.as_secs_f64()));
        row.insert(MapKey::Str("wait_s".into()), Value::float(t.wait.as_secs_f64()));
        row.insert(MapKey::Str("max_wait_s".into()), Value::float(t.max_wait.as_secs_f64()));
        row.insert(MapKey::Str("forced_drops".into()), Value::Int(t.forced_drops as i64));
        row.insert(MapKey::Str("cpu_moves".into()), Value::Int(t.cpu_moves as i64));
        let row = vm.it.heap.new_map(row);
        per_thread.insert(MapKey::Int(t.thread.get() as i64), row);
    }
    let threads = vm.it.heap.new_map(per_thread);
    let mut m = MapObj::default();
    m.insert(MapKey::Str("policy".into()), vm.new_str(stats.policy.name()));
    m.insert(MapKey::Str("switches".into()), Value::Int(stats.switches as i64));
    m.insert(
        MapKey::Str("forced_drops".into()),
        Value::Int(stats.forced_drops as i64),
    );
    m.insert(
        MapKey::Str("drop_requests".into()),
        Value::Int(stats.drop_requests as i64),
    );
    m.insert(
        MapKey::Str("acquisitions".into()),
        Value::Int(stats.acquisitions as i64),
    );
    m.insert(MapKey::Str("cpu_moves".into()), Value::Int(stats.cpu_moves as i64));
    m.insert(MapKey::Str("threads".into()), threads);
    Ok(vm.it.heap.new_map(m))
}

fn parent(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "parent", args, 0, 0)?;
    crate::process::parent(vm)
}

fn pmap(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "pmap", args, 2, 3)?;
    let f = args[0];
    if !matches!(f, Value::Func(_) | Value::Builtin(_)) {
        let t = f.type_name(&vm.it.heap);
        return Err(vm.type_error(format!("pmap() needs a function, not {t}")));
    }
    let items = items_of(vm, "pmap", args[1])?;
    let workers = match args.get(2) {
        None | Some(Value::Nil) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Some(&w) => {
            let w = int_arg(vm, "pmap", w)?;
            if w < 1 {
                return Err(vm.error("ValueError", "pmap() needs at least 1 worker"));
            }
            w as usize
        }
    };
    crate::process::pmap(vm, f, items, workers)
}

fn port_arg(vm: &mut Vm, name: &str, v: Value) -> VmResult<u16> {
    let p = int_arg(vm, name, v)?;
    u16::try_from(p).map_err(|_| vm.error("ValueError", format!("{name}(): port must be 0-65535, not {p}")))
}

fn tcp_listen(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "tcp_listen", args, 2, 2)?;
    let host = str_arg(vm, "tcp_listen", args[0])?.to_string();
    let port = port_arg(vm, "tcp_listen", args[1])?;
    crate::net::listen(vm, host, port)
}

fn tcp_connect(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "tcp_connect", args, 2, 2)?;
    let host = str_arg(vm, "tcp_connect", args[0])?.to_string();
    let port = port_arg(vm, "tcp_connect", args[1])?;
    crate::net::connect(vm, host, port)
}

// ---- fields of objects ---------------------------------------------------------------

/// `o.name` for objects that have fields (`e.kind`, `e.message`).
pub fn object_field(vm: &mut Vm, id: ObjId, field: &str) -> Option<Value> {
    let text = match vm.it.heap.get(id) {
        Obj::Error(e) => match field {
            "kind" => e.kind.clone(),
            "message" => e.message.clone(),
            _ => return None,
        },
        Obj::Listener(l) if field == "port" => return Some(Value::Int(l.port as i64)),
        Obj::Thread(t) if field == "id" => return Some(Value::Int(t.tid as i64)),
        Obj::Process(p) if field == "pid" => return Some(Value::Int(p.pid as i64)),
        Obj::Range(r) => {
            return match field {
                "start" => Some(Value::Int(r.start)),
                "stop" => Some(Value::Int(r.stop)),
                "step" => Some(Value::Int(r.step)),
                _ => None,
            };
        }
        _ => return None,
    };
    Some(vm.new_str(text))
}

// ---- methods -------------------------------------------------------------------------

pub fn call_method(vm: &mut Vm, recv: Value, name: Value, args: &[Value]) -> R {
    let Value::Str(nid) = name else {
        unreachable!("method names are string constants")
    };
    let method = vm.it.heap.str_rc(nid).clone();
    match recv {
        Value::Str(id) => str_method(vm, id, &method, args),
        Value::List(id) => list_method(vm, id, &method, args),
        Value::Map(id) => map_method(vm, id, &method, args),
        Value::Obj(id) => object_method(vm, recv, id, &method, args),
        _ => Err(no_attribute(vm, recv, &method)),
    }
}

/// A blocking method's optional timeout in seconds: none (or nil) waits as long as it
/// takes; a negative or NaN one is a `ValueError`, as in Python.
fn optional_timeout(vm: &mut Vm, name: impl Display + Copy, args: &[Value]) -> VmResult<Option<f64>> {
    let Some(&t) = args.first().filter(|t| !matches!(t, Value::Nil)) else {
        return Ok(None);
    };
    let secs = num_arg(vm, name, t)?;
    if secs.is_nan() || secs < 0.0 {
        let shown = vm.it.heap.display(t);
        return Err(vm.error(
            "ValueError",
            format!("{name}(): timeout must be a non-negative number, not {shown}"),
        ));
    }
    Ok(Some(secs))
}

/// Methods of threads, locks, queues and sockets.
fn object_method(vm: &mut Vm, recv: Value, id: ObjId, method: &str, args: &[Value]) -> R {
    use crate::threads;
    let kind = vm.it.heap.get(id).type_name();
    let name = MethodName(kind, method);
    match (kind, method) {
        ("thread", "join") => {
            arity(vm, name, args, 0, 0)?;
            threads::join(vm, id)
        }
        ("thread", "is_alive") => {
            arity(vm, name, args, 0, 0)?;
            Ok(Value::bool(threads::is_alive(vm, id)))
        }
        ("lock", "acquire") => {
            arity(vm, name, args, 0, 1)?;
            let timeout = optional_timeout(vm, name, args)?;
            threads::acquire(vm, id, timeout).map(Value::bool)
        }
        ("lock", "release") => {
            arity(vm, name, args, 0, 0)?;
            threads::release_lock(vm, id).map(|_| Value::Nil)
        }
        ("lock", "locked") => {
            arity(vm, name, args, 0, 0)?;
            Ok(Value::bool(threads::lock_held(vm, id)))
        }
        ("queue", "put") => {
            arity(vm, name, args, 1, 1)?;
            threads::put(vm, id, args[0]).map(|_| Value::Nil)
        }
        ("queue", "get") => {
            arity(vm, name, args, 0, 1)?;
            let timeout = optional_timeout(vm, name, args)?;
            threads::get(vm, id, timeout)
        }
        ("queue", "len") => {
            arity(vm, name, args, 0, 0)?;
            Ok(Value::Int(threads::queue_len(vm, id) as i64))
        }
        ("process", "join") => {
            arity(vm, name, args, 0, 0)?;
            crate::process::join(vm, id)
        }
        ("process", "is_alive") => {
            arity(vm, name, args, 0, 0)?;
            Ok(Value::bool(crate::process::is_alive(vm, id)))
        }
        ("process", "kill") => {
            arity(vm, name, args, 0, 0)?;
            crate::process::kill(vm, id)
        }
        ("process" | "channel", "send") => {
            arity(vm, name, args, 1, 1)?;
            crate::process::send(vm, id, args[0])
        }
        ("process" | "channel", "recv") => {
            arity(vm, name, args, 0, 1)?;
            let timeout = optional_timeout(vm, name, args)?;
            crate::process::recv(vm, id, timeout)
        }
        ("listener", "accept") => {
            arity(vm, name, args, 0, 0)?;
            crate::net::accept(vm, id)
        }
        ("conn", "send") => {
            arity(vm, name, args, 1, 1)?;
            let text = str_arg(vm, name, args[0])?;
            crate::net::send(vm, id, std::sync::Arc::from(&*text))
        }
        ("conn", "recv") => {
            arity(vm, name, args, 1, 1)?;
            let max = int_arg(vm, name, args[0])?;
            if max <= 0 {
                return Err(vm.error("ValueError", format!("{name}(): max_bytes must be positive, not {max}")));
            }
            crate::net::recv(vm, id, usize::try_from(max).unwrap_or(usize::MAX))
        }
        ("conn", "close") => {
            arity(vm, name, args, 0, 0)?;
            crate::net::close(vm, id)
        }
        _ => Err(no_attribute(vm, recv, method)),
    }
}

fn no_attribute(vm: &mut Vm, recv: Value, method: &str) -> Box<Thrown> {
    let t = recv.type_name(&vm.it.heap);
    vm.error("AttributeError", format!("'{t}' object has no attribute '{method}'"))
}

fn str_method(vm: &mut Vm, id: ObjId, method: &str, args: &[Value]) -> R {
    let s = vm.it.heap.str_rc(id).clone();
    let name = MethodName("str", method);
    {
        match method {
            "upper" | "lower" => {
                arity(vm, name, args, 0, 0)?;
                let out = if method == "upper" {
                    s.to_uppercase()
                } else {
                    s.to_lowercase()
                };
                Ok(vm.new_str(out))
            }
            "strip" | "lstrip" | "rstrip" => {
                arity(vm, name, args, 0, 1)?;
                let chars: Option<Vec<char>> = match args.first() {
                    None | Some(Value::Nil) => None,
                    Some(&c) => Some(str_arg(vm, name, c)?.chars().collect()),
                };
                let pred = |c: char| match &chars {
                    Some(set) => set.contains(&c),
                    None => c.is_whitespace(),
                };
                let out = match method {
                    "strip" => s.trim_matches(pred),
                    "lstrip" => s.trim_start_matches(pred),
                    _ => s.trim_end_matches(pred),
                };
                Ok(vm.new_str(out))
            }
            "split" => {
                arity(vm, name, args, 0, 1)?;
                let parts: Vec<String> = match args.first() {
                    None | Some(Value::Nil) => s.split_whitespace().map(String::from).collect(),
                    Some(&sep) => {
                        let sep = str_arg(vm, name, sep)?;
                        if sep.is_empty() {
                            return Err(vm.error("ValueError", "empty separator"));
                        }
                        s.split(&*sep).map(String::from).collect()
                    }
                };
                let items: Vec<Value> = parts.into_iter().map(|p| vm.new_str(p)).collect();
                Ok(vm.it.heap.new_list(items))
            }
            "join" => {
                arity(vm, name, args, 1, 1)?;
                let items = items_of(vm, name, args[0])?;
                let mut out = String::new();
                for (i, v) in items.iter().enumerate() {
                    let Value::Str(part) = v else {
                        let t = v.type_name(&vm.it.heap);
                        return Err(vm.type_error(format!("sequence item {i}: expected str instance, {t} found")));
                    };
                    if i > 0 {
                        out.push_str(&s);
                    }
                    out.push_str(vm.it.heap.str(*part));
                }
                Ok(vm.new_str(out))
            }
            "find" => {
                arity(vm, name, args, 1, 1)?;
                let sub = str_arg(vm, name, args[0])?;
                Ok(Value::Int(match s.find(&*sub) {
                    Some(byte) => s[..byte].chars().count() as i64,
                    None => -1,
                }))
            }
            "replace" => {
                arity(vm, name, args, 2, 2)?;
                let old = str_arg(vm, name, args[0])?;
                let new = str_arg(vm, name, args[1])?;
                let out = if old.is_empty() {
                    // Python inserts the replacement between every character.
                    let mut o = String::from(&*new);
                    for c in s.chars() {
                        o.push(c);
                        o.push_str(&new);
                    }
                    o
                } else {
                    s.replace(&*old, &new)
                };
                Ok(vm.new_str(out))
            }
            "startswith" | "endswith" => {
                arity(vm, name, args, 1, 1)?;
                let fix = str_arg(vm, name, args[0])?;
                Ok(Value::bool(if method == "startswith" {
                    s.starts_with(&*fix)
                } else {
                    s.ends_with(&*fix)
                }))
            }
            _ => Err(no_attribute(vm, Value::Str(id), method)),
        }
    }
}

fn list_method(vm: &mut Vm, id: ObjId, method: &str, args: &[Value]) -> R {
    let name = MethodName("list", method);
    {
        match method {
            "append" => {
                arity(vm, name, args, 1, 1)?;
                vm.it.heap.list_mut(id).push(args[0]);
                Ok(Value::Nil)
            }
            "pop" => {
                arity(vm, name, args, 0, 1)?;
                let len = vm.it.heap.list(id).len();
                if len == 0 {
                    return Err(vm.error("IndexError", "pop from empty list"));
                }
                let at = match args.first() {
                    None => len - 1,
                    Some(&i) => {
                        let i = int_arg(vm, name, i)?;
                        match normalize_index(i, len) {
                            Some(j) => j,
                            None => return Err(vm.error("IndexError", "pop index out of range")),
                        }
                    }
                };
                Ok(vm.it.heap.list_mut(id).remove(at))
            }
            "insert" => {
                arity(vm, name, args, 2, 2)?;
                let i = int_arg(vm, name, args[0])?;
                let len = vm.it.heap.list(id).len() as i64;
                let at = if i < 0 { (i + len).max(0) } else { i.min(len) };
                vm.it.heap.list_mut(id).insert(at as usize, args[1]);
                Ok(Value::Nil)
            }
            "remove" | "index" => {
                arity(vm, name, args, 1, 1)?;
                let n = vm.it.heap.list(id).len();
                for i in 0..n {
                    let Some(&v) = vm.it.heap.list(id).get(i) else { break };
                    if ops::equal(vm, v, args[0])? {
                        if method == "remove" {
                            vm.it.heap.list_mut(id).remove(i);
                            return Ok(Value::Nil);
                        }
                        return Ok(Value::Int(i as i64));
                    }
                }
                let shown = vm.it.heap.repr(args[0]);
                Err(vm.error("ValueError", format!("{shown} is not in list")))
            }
            "sort" => {
                arity(vm, name, args, 0, 1)?;
                let items = vm.it.heap.list(id).clone();
                let out = sort_values(vm, name, items, args.first().copied())?;
                *vm.it.heap.list_mut(id) = out;
                Ok(Value::Nil)
            }
            "reverse" => {
                arity(vm, name, args, 0, 0)?;
                vm.it.heap.list_mut(id).reverse();
                Ok(Value::Nil)
            }
            "extend" => {
                arity(vm, name, args, 1, 1)?;
                let items = items_of(vm, name, args[0])?;
                vm.it.heap.list_mut(id).extend(items);
                Ok(Value::Nil)
            }
            "copy" => {
                arity(vm, name, args, 0, 0)?;
                let items = vm.it.heap.list(id).clone();
                Ok(vm.it.heap.new_list(items))
            }
            "clear" => {
                arity(vm, name, args, 0, 0)?;
                vm.it.heap.list_mut(id).clear();
                Ok(Value::Nil)
            }
            _ => Err(no_attribute(vm, Value::List(id), method)),
        }
    }
}

fn map_method(vm: &mut Vm, id: ObjId, method: &str, args: &[Value]) -> R {
    let name = MethodName("map", method);
    let Some(which) = MapMethod::parse(method) else {
        return Err(no_attribute(vm, Value::Map(id), method));
    };
    match which {
        MapMethod::Keys | MapMethod::Values | MapMethod::Items => {
            arity(vm, name, args, 0, 0)?;
            if which == MapMethod::Values {
                let values = vm.it.heap.map(id).values().copied().collect();
                return Ok(vm.it.heap.new_list(values));
            }
            let entries: Vec<_> = vm.it.heap.map(id).iter().map(|(k, v)| (k.clone(), *v)).collect();
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                out.push(match which {
                    MapMethod::Keys => vm.it.heap.key_value(&k),
                    _ => {
                        let kv = vm.it.heap.key_value(&k);
                        vm.it.heap.new_list(vec![kv, v])
                    }
                });
            }
            Ok(vm.it.heap.new_list(out))
        }
        MapMethod::Get => {
            arity(vm, name, args, 1, 2)?;
            let default = args.get(1).copied().unwrap_or(Value::Nil);
            let heap = &vm.it.heap;
            Ok(match heap.key_ref(args[0]) {
                Some(k) => heap.map(id).get(k).copied().unwrap_or(default),
                None => default,
            })
        }
        MapMethod::Pop => {
            arity(vm, name, args, 1, 2)?;
            let removed = {
                let key = vm.it.heap.map_key(args[0]);
                match key {
                    Some(k) => vm.it.heap.map_mut(id).shift_remove(k.as_ref()),
                    None => None,
                }
            };
            match (removed, args.get(1)) {
                (Some(v), _) => Ok(v),
                (None, Some(&d)) => Ok(d),
                (None, None) => Err(ops::key_error(vm, args[0])),
            }
        }
    }
}
