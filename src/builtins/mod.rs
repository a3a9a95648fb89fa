//! The builtin functions of LANGUAGE.md §11 and the methods of every kind of value,
//! split by what they serve: core functions, iteration, the outside world, concurrency,
//! the `random` and `json` modules, and the methods of strings, lists, maps and the
//! runtime's objects. `install` binds the
//! functions as globals and fills the interpreter's method table.
//!
//! Invariant: every argument is checked (`args.rs`) and a bad one throws a `TypeError` or
//! `ValueError` naming the function — nothing a script passes can panic here. A builtin
//! never runs the collector itself (see `Vm::call_value`), except through `Vm::reserve`
//! before a big allocation, which keeps everything the builtin allocated so far; an
//! allocation whose size a script controls goes through such a reservation, so it is a
//! `MemoryError`, never an abort.

mod args;

use args::Native;
mod concurrency;
mod core;
mod iteration;
mod json;
mod list_methods;
mod map_methods;
mod object_methods;
mod random;
mod str_methods;
mod system;

use crate::object::{Kind, MapObj};
use crate::value::{MapKey, Value};
use crate::vm::{BuiltinFn, Interp};
use list_methods::LIST_METHODS;
use map_methods::MAP_METHODS;
use object_methods::OBJECT_METHODS;
use str_methods::STR_METHODS;

/// Binds every core builtin as a global and defines every builtin method.
pub fn install(it: &mut Interp) {
    let table: &[(&str, Native)] = &[
        ("print", core::print),
        ("len", core::len),
        ("str", core::str_),
        ("int", core::int),
        ("float", core::float),
        ("type", core::type_),
        ("abs", core::abs),
        ("min", core::min),
        ("max", core::max),
        ("sum", core::sum),
        ("sorted", core::sorted),
        ("sqrt", core::sqrt),
        ("floor", core::floor),
        ("round", core::round),
        ("range", core::range),
        ("format", core::format),
        ("assert", core::assert),
        ("error", core::error),
        ("time", system::time),
        ("clock", system::clock),
        ("sleep", system::sleep),
        ("argv", system::argv),
        ("read_file", system::read_file),
        ("write_file", system::write_file),
        ("exit", system::exit),
        ("input", system::input),
        ("env", system::env),
        ("exists", system::exists),
        ("append_file", system::append_file),
        ("list", iteration::list),
        ("enumerate", iteration::enumerate),
        ("zip", iteration::zip),
        ("reversed", iteration::reversed),
        ("any", iteration::any),
        ("all", iteration::all),
        ("map", iteration::map),
        ("filter", iteration::filter),
        ("ord", core::ord),
        ("chr", core::chr),
        ("spawn", crate::threads::spawn),
        ("thread_id", concurrency::thread_id),
        ("cpu_count", concurrency::cpu_count),
        ("Lock", concurrency::lock),
        ("RLock", concurrency::rlock),
        ("Condition", concurrency::condition),
        ("Event", concurrency::event),
        ("Semaphore", concurrency::semaphore),
        ("Barrier", concurrency::barrier),
        ("Queue", concurrency::queue),
        ("set_switch_interval", concurrency::set_switch_interval),
        ("switch_interval", concurrency::switch_interval),
        ("gil_policy", concurrency::gil_policy),
        ("gil_stats", concurrency::gil_stats),
        ("tcp_listen", concurrency::tcp_listen),
        ("tcp_connect", concurrency::tcp_connect),
        ("spawn_process", crate::process::spawn_process),
        ("spawn_interpreter", crate::interpreters::spawn_interpreter),
        ("parent", concurrency::parent),
        ("pmap", concurrency::pmap),
    ];
    // The table, its hidden helpers and the modules, with room to spare for the script's
    // first globals.
    it.globals.reserve(table.len() + 32);
    it.builtins.reserve(table.len() + 32);
    it.heap.builtin_names.reserve(table.len() + 32);
    for (name, f) in table {
        let function = it.register(name, BuiltinFn::Native(*f));
        if let ("range", Value::Builtin(index)) = (*name, function) {
            it.range_builtin = index;
        }
    }
    let map_chunk = it.register_hidden("<map chunk>", BuiltinFn::Native(crate::interpreters::map_chunk));
    it.map_chunk = Some(map_chunk);
    let echo = it.register_hidden("<echo>", BuiltinFn::Native(core::repl_echo));
    it.repl_print = Some(echo);
    install_module(it, "random", random::FUNCTIONS);
    install_module(it, "json", json::FUNCTIONS);
    let methods = &mut it.methods;
    methods.define(Kind::Str, STR_METHODS, str_methods::str_methods);
    methods.define(Kind::List, LIST_METHODS, list_methods::list_methods);
    for (method, inline) in list_methods::LIST_INLINE {
        methods.define_inline(*method, *inline);
    }
    methods.define(Kind::Map, MAP_METHODS, map_methods::map_methods);
    for (kind, names, f) in OBJECT_METHODS {
        methods.define(*kind, names, *f);
    }
}

/// Binds `module` as a global map of builtin functions (`random.seed`, `json.encode`).
fn install_module(it: &mut Interp, module: &str, functions: &[(&str, Native)]) {
    let mut table = MapObj::default();
    for (name, f) in functions {
        let function = it.register_hidden(&format!("{module}.{name}"), BuiltinFn::Native(*f));
        table.insert(MapKey::Str((*name).into()), function);
    }
    let table = it.heap.new_map(table);
    if let Some(g) = it.globals.declare_builtin(module) {
        it.globals.values[g as usize] = table;
    }
}
