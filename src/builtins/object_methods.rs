//! The methods of the runtime's objects: threads (`join is_alive`), the synchronisation
//! primitives — locks and rlocks (`acquire release locked`), conditions (`wait notify
//! notify_all`), events (`set clear is_set wait`), semaphores (`acquire release`),
//! barriers (`wait`), each with `with` where it applies — queues (`put get len empty`),
//! processes and channels (`join is_alive kill send recv`), listeners (`accept`) and
//! connections (`send recv close`).
//!
//! Invariant: these check arguments and hand the work to the subsystem that owns the
//! object (`threads`, `sync`, `process`, `net`), which blocks only with the GIL released.

use super::args::{MethodName, arity, int_arg, optional_timeout, str_arg};
use crate::method::Method;
use crate::object::Kind;
use crate::sync::{barrier, condition, event, lock, queue, rlock, semaphore};
use crate::value::{ObjId, Value};
use crate::vm::{Vm, VmResult};
use crate::{net, process, threads};

type R = VmResult<Value>;

/// The methods of each runtime kind, and the function that implements them.
pub(super) const OBJECT_METHODS: &[(Kind, &[Method], crate::vm::MethodFn)] = &[
    (Kind::Thread, &[Method::Join, Method::IsAlive], thread_methods),
    (Kind::Lock, LOCK_METHODS, lock_methods),
    (Kind::RLock, LOCK_METHODS, rlock_methods),
    (
        Kind::Condition,
        &[
            Method::Wait,
            Method::Notify,
            Method::NotifyAll,
            Method::Enter,
            Method::Exit,
        ],
        condition_methods,
    ),
    (
        Kind::Event,
        &[Method::Set, Method::Clear, Method::IsSet, Method::Wait],
        event_methods,
    ),
    (
        Kind::Semaphore,
        &[Method::Acquire, Method::Release, Method::Enter, Method::Exit],
        semaphore_methods,
    ),
    (Kind::Barrier, &[Method::Wait], barrier_methods),
    (
        Kind::Queue,
        &[Method::Put, Method::Get, Method::Len, Method::Empty],
        queue_methods,
    ),
    (
        Kind::Process,
        &[Method::Join, Method::IsAlive, Method::Kill, Method::Send, Method::Recv],
        process_methods,
    ),
    (Kind::Channel, &[Method::Send, Method::Recv], process_methods),
    (Kind::Listener, &[Method::Accept], listener_methods),
    (Kind::Conn, &[Method::Send, Method::Recv, Method::Close], conn_methods),
];

const LOCK_METHODS: &[Method] = &[
    Method::Acquire,
    Method::Release,
    Method::Locked,
    Method::Enter,
    Method::Exit,
];

/// The object a runtime value names (the method table only sends objects here).
fn object(recv: Value) -> ObjId {
    match recv {
        Value::Obj(id) => id,
        _ => unreachable!("the method table gives object methods only objects"),
    }
}

fn thread_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let (id, name) = (object(recv), MethodName("thread", method.name()));
    match method {
        Method::Join => {
            arity(vm, name, args, 0, 1)?;
            let timeout = optional_timeout(vm, name, args)?;
            threads::join(vm, id, timeout)
        }
        Method::IsAlive => {
            arity(vm, name, args, 0, 0)?;
            Ok(Value::bool(threads::is_alive(vm, id)))
        }
        _ => unreachable!("{} is not a thread method", method.name()),
    }
}

fn lock_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let (id, name) = (object(recv), MethodName("lock", method.name()));
    match method {
        Method::Acquire => {
            arity(vm, name, args, 0, 1)?;
            let timeout = optional_timeout(vm, name, args)?;
            lock::acquire(vm, id, timeout).map(Value::bool)
        }
        Method::Enter => lock::acquire(vm, id, None).map(|_| Value::Nil),
        Method::Release | Method::Exit => {
            arity(vm, name, args, 0, 0)?;
            lock::release(vm, id).map(|_| Value::Nil)
        }
        Method::Locked => {
            arity(vm, name, args, 0, 0)?;
            Ok(Value::bool(lock::locked(vm, id)))
        }
        _ => unreachable!("{} is not a lock method", method.name()),
    }
}

fn rlock_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let (id, name) = (object(recv), MethodName("rlock", method.name()));
    match method {
        Method::Acquire => {
            arity(vm, name, args, 0, 1)?;
            let timeout = optional_timeout(vm, name, args)?;
            rlock::acquire(vm, id, timeout).map(Value::bool)
        }
        Method::Enter => rlock::acquire(vm, id, None).map(|_| Value::Nil),
        Method::Release | Method::Exit => {
            arity(vm, name, args, 0, 0)?;
            rlock::release(vm, id).map(|_| Value::Nil)
        }
        Method::Locked => {
            arity(vm, name, args, 0, 0)?;
            Ok(Value::bool(rlock::locked(vm, id)))
        }
        _ => unreachable!("{} is not an rlock method", method.name()),
    }
}

fn condition_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let (id, name) = (object(recv), MethodName("condition", method.name()));
    match method {
        Method::Wait => {
            arity(vm, name, args, 0, 1)?;
            let timeout = optional_timeout(vm, name, args)?;
            condition::wait(vm, id, timeout).map(Value::bool)
        }
        Method::Notify => {
            arity(vm, name, args, 0, 1)?;
            let n = match args.first() {
                None => 1,
                Some(&n) => {
                    let n = int_arg(vm, name, n)?;
                    u64::try_from(n)
                        .map_err(|_| vm.error("ValueError", format!("{name}(): n must be non-negative, not {n}")))?
                }
            };
            condition::notify(vm, id, Some(n)).map(|_| Value::Nil)
        }
        Method::NotifyAll => {
            arity(vm, name, args, 0, 0)?;
            condition::notify(vm, id, None).map(|_| Value::Nil)
        }
        // `with c` takes and gives back the condition's lock, whatever kind it is.
        Method::Enter | Method::Exit => {
            let lock = condition::lock_of(vm, id);
            let kind = lock.kind(&vm.it.heap);
            let table = if kind == Kind::RLock {
                rlock_methods
            } else {
                lock_methods
            };
            table(vm, method, lock, args)
        }
        _ => unreachable!("{} is not a condition method", method.name()),
    }
}

fn event_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let (id, name) = (object(recv), MethodName("event", method.name()));
    if method == Method::Wait {
        arity(vm, name, args, 0, 1)?;
        let timeout = optional_timeout(vm, name, args)?;
        return event::wait(vm, id, timeout).map(Value::bool);
    }
    arity(vm, name, args, 0, 0)?;
    match method {
        Method::Set => event::set(vm, id),
        Method::Clear => event::clear(vm, id),
        Method::IsSet => return Ok(Value::bool(event::is_set(vm, id))),
        _ => unreachable!("{} is not an event method", method.name()),
    }
    Ok(Value::Nil)
}

fn semaphore_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let (id, name) = (object(recv), MethodName("semaphore", method.name()));
    match method {
        Method::Acquire => {
            arity(vm, name, args, 0, 1)?;
            let timeout = optional_timeout(vm, name, args)?;
            semaphore::acquire(vm, id, timeout).map(Value::bool)
        }
        Method::Enter => semaphore::acquire(vm, id, None).map(|_| Value::Nil),
        Method::Release | Method::Exit => {
            arity(vm, name, args, 0, 0)?;
            semaphore::release(vm, id);
            Ok(Value::Nil)
        }
        _ => unreachable!("{} is not a semaphore method", method.name()),
    }
}

fn barrier_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let (id, name) = (object(recv), MethodName("barrier", method.name()));
    arity(vm, name, args, 0, 0)?;
    match method {
        Method::Wait => barrier::wait(vm, id).map(|i| Value::Int(i as i64)),
        _ => unreachable!("{} is not a barrier method", method.name()),
    }
}

fn queue_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let (id, name) = (object(recv), MethodName("queue", method.name()));
    match method {
        Method::Put => {
            arity(vm, name, args, 1, 2)?;
            let timeout = optional_timeout(vm, name, &args[1..])?;
            queue::put(vm, id, args[0], timeout).map(|_| Value::Nil)
        }
        Method::Get => {
            arity(vm, name, args, 0, 1)?;
            let timeout = optional_timeout(vm, name, args)?;
            queue::get(vm, id, timeout)
        }
        Method::Len => {
            arity(vm, name, args, 0, 0)?;
            Ok(Value::Int(queue::len(vm, id) as i64))
        }
        Method::Empty => {
            arity(vm, name, args, 0, 0)?;
            Ok(Value::bool(queue::len(vm, id) == 0))
        }
        _ => unreachable!("{} is not a queue method", method.name()),
    }
}

/// A process (in the parent) and a channel (the child's `parent()`) share `send` and
/// `recv`; only a process can be joined, polled or killed.
fn process_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let id = object(recv);
    let kind = vm.it.heap.get(id).type_name();
    let name = MethodName(kind, method.name());
    match method {
        Method::Join => {
            arity(vm, name, args, 0, 0)?;
            process::join(vm, id)
        }
        Method::IsAlive => {
            arity(vm, name, args, 0, 0)?;
            Ok(Value::bool(process::is_alive(vm, id)))
        }
        Method::Kill => {
            arity(vm, name, args, 0, 0)?;
            process::kill(vm, id)
        }
        Method::Send => {
            arity(vm, name, args, 1, 1)?;
            process::send(vm, id, args[0])
        }
        Method::Recv => {
            arity(vm, name, args, 0, 1)?;
            let timeout = optional_timeout(vm, name, args)?;
            process::recv(vm, id, timeout)
        }
        _ => unreachable!("{} is not a process method", method.name()),
    }
}

fn listener_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let (id, name) = (object(recv), MethodName("listener", method.name()));
    arity(vm, name, args, 0, 0)?;
    match method {
        Method::Accept => net::accept(vm, id),
        _ => unreachable!("{} is not a listener method", method.name()),
    }
}

fn conn_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let (id, name) = (object(recv), MethodName("conn", method.name()));
    match method {
        Method::Send => {
            arity(vm, name, args, 1, 1)?;
            let text = str_arg(vm, name, args[0])?;
            net::send(vm, id, std::sync::Arc::from(&*text))
        }
        Method::Recv => {
            arity(vm, name, args, 1, 1)?;
            let max = int_arg(vm, name, args[0])?;
            if max <= 0 {
                return Err(vm.error("ValueError", format!("{name}(): max_bytes must be positive, not {max}")));
            }
            net::recv(vm, id, usize::try_from(max).unwrap_or(usize::MAX))
        }
        Method::Close => {
            arity(vm, name, args, 0, 0)?;
            net::close(vm, id)
        }
        _ => unreachable!("{} is not a conn method", method.name()),
    }
}
