//! The builtins for concurrency: threads and the GIL (`thread_id cpu_count
//! set_switch_interval switch_interval gil_policy gil_stats`), the synchronisation
//! primitives' constructors (`Lock RLock Condition Event Semaphore Barrier Queue`),
//! processes (`parent pmap`) and sockets (`tcp_listen tcp_connect`). `spawn` and
//! `spawn_process` live with their subsystems (`threads/`, `process/`).
//!
//! Invariant: these only check arguments and build values; whatever blocks is done by the
//! subsystem, with the GIL released.

use super::args::{arity, int_arg, items_of, num_arg, str_arg};
use crate::object::MapObj;
use crate::sync;
use crate::value::{MapKey, Value};
use crate::vm::{Vm, VmResult};

type R = VmResult<Value>;

pub(super) fn thread_id(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "thread_id", args, 0, 0)?;
    Ok(Value::Int(vm.thread_id().get() as i64))
}

pub(super) fn cpu_count(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "cpu_count", args, 0, 0)?;
    Ok(Value::Int(
        std::thread::available_parallelism().map_or(1, |n| n.get()) as i64
    ))
}

pub(super) fn lock(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "Lock", args, 0, 0)?;
    Ok(sync::lock::new_lock(vm))
}

pub(super) fn rlock(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "RLock", args, 0, 0)?;
    Ok(sync::rlock::new_rlock(vm))
}

pub(super) fn condition(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "Condition", args, 0, 1)?;
    sync::condition::new_condition(vm, args.first().copied())
}

pub(super) fn event(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "Event", args, 0, 0)?;
    Ok(sync::event::new_event(vm))
}

/// `Semaphore(n)`: `n` permits to begin with (1 if absent); a negative count is a
/// `ValueError`, as in Python.
pub(super) fn semaphore(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "Semaphore", args, 0, 1)?;
    let permits = match args.first() {
        None => 1,
        Some(&n) => {
            let n = int_arg(vm, "Semaphore", n)?;
            u64::try_from(n).map_err(|_| {
                vm.error(
                    "ValueError",
                    format!("Semaphore(): initial value must be >= 0, not {n}"),
                )
            })?
        }
    };
    Ok(sync::semaphore::new_semaphore(vm, permits))
}

/// `Barrier(n)`: for rounds of `n` threads, `n` at least 1.
pub(super) fn barrier(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "Barrier", args, 1, 1)?;
    let n = int_arg(vm, "Barrier", args[0])?;
    if n < 1 {
        return Err(vm.error(
            "ValueError",
            format!("Barrier(): the number of threads must be at least 1, not {n}"),
        ));
    }
    Ok(sync::barrier::new_barrier(vm, n as u64))
}

pub(super) fn queue(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "Queue", args, 0, 1)?;
    let maxsize = match args.first() {
        None | Some(Value::Nil) => 0,
        Some(&m) => int_arg(vm, "Queue", m)?.max(0) as usize,
    };
    Ok(sync::queue::new_queue(vm, maxsize))
}

pub(super) fn set_switch_interval(vm: &mut Vm, args: &[Value]) -> R {
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

pub(super) fn switch_interval(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "switch_interval", args, 0, 0)?;
    Ok(Value::float(vm.it.gil().switch_interval().as_secs_f64()))
}

pub(super) fn gil_policy(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "gil_policy", args, 0, 0)?;
    let name = vm.it.gil().policy_name();
    Ok(vm.new_str(name))
}

/// `gil_stats()`: totals, why the GIL changed hands, the waits each line caused and, per
/// thread id, acquisitions and times in seconds.
pub(super) fn gil_stats(vm: &mut Vm, args: &[Value]) -> R {
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
    let mut reasons = MapObj::default();
    for (reason, n) in stats.reasons.iter() {
        reasons.insert(MapKey::Str(reason.name().into()), Value::Int(n as i64));
    }
    let reasons = vm.it.heap.new_map(reasons);
    let mut caused = MapObj::default();
    for w in &stats.waits_caused {
        caused.insert(MapKey::Str(w.line.as_str().into()), Value::float(w.wait.as_secs_f64()));
    }
    let caused = vm.it.heap.new_map(caused);
    m.insert(MapKey::Str("policy".into()), vm.new_str(stats.policy.as_str()));
    m.insert(
        MapKey::Str("elapsed_s".into()),
        Value::float(stats.elapsed.as_secs_f64()),
    );
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
    m.insert(MapKey::Str("reasons".into()), reasons);
    m.insert(MapKey::Str("waits_caused".into()), caused);
    Ok(vm.it.heap.new_map(m))
}

pub(super) fn parent(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "parent", args, 0, 0)?;
    crate::process::parent(vm)
}

pub(super) fn pmap(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "pmap", args, 2, 4)?;
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
    let mode = match args.get(3) {
        None | Some(Value::Nil) => "processes".to_string(),
        Some(&m) => str_arg(vm, "pmap", m)?.to_string(),
    };
    match mode.as_str() {
        "processes" => crate::process::pmap(vm, f, items, workers),
        "interpreters" => crate::interpreters::pmap(vm, f, items, workers, false),
        "threads" => crate::interpreters::pmap(vm, f, items, workers, true),
        other => Err(vm.error(
            "ValueError",
            format!("pmap() mode must be \"processes\", \"interpreters\" or \"threads\", not \"{other}\""),
        )),
    }
}

fn port_arg(vm: &mut Vm, name: &str, v: Value) -> VmResult<u16> {
    let p = int_arg(vm, name, v)?;
    u16::try_from(p).map_err(|_| vm.error("ValueError", format!("{name}(): port must be 0-65535, not {p}")))
}

pub(super) fn tcp_listen(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "tcp_listen", args, 2, 2)?;
    let host = str_arg(vm, "tcp_listen", args[0])?.to_string();
    let port = port_arg(vm, "tcp_listen", args[1])?;
    crate::net::listen(vm, host, port)
}

pub(super) fn tcp_connect(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "tcp_connect", args, 2, 2)?;
    let host = str_arg(vm, "tcp_connect", args[0])?.to_string();
    let port = port_arg(vm, "tcp_connect", args[1])?;
    crate::net::connect(vm, host, port)
}
