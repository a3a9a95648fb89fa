//! Starting an interpreter: `spawn_interpreter(f, args...)` takes the image of the
//! spawner's world under its GIL, and a new OS thread builds a fresh interpreter from the
//! spawner's recipe, rebuilds the image in it and runs `f(args...)`; the thread ends by
//! waiting for that interpreter's own threads and children, sending the final frame and
//! leaving its lock's statistics to the family. Also `pmap` over interpreters or threads,
//! through one hidden builtin that maps a function over a chunk of items.
//!
//! Invariants:
//! - The closure that starts the new thread captures only `Send` things (the image, the
//!   link, the recipe, the family, the lock settings): the compiler checks that nothing of
//!   the spawner's heap goes along.
//! - The spawned interpreter's lock copies the spawner's settings as they are at the
//!   spawn (policy, switch and check intervals, tracing), and keeps its own statistics.
//! - The final frame (or the exit code, or why it could not start) is in the link before
//!   the spawner can see the interpreter as ended, and the family has its statistics
//!   before that.

use super::image;
use super::messages::encode_frame;
use crate::family::{Family, Telemetry};
use crate::link::{Ending, Link};
use crate::object::{Channel, ChannelObj, InterpreterObj, Obj};
use crate::process::{KIND_ERROR, KIND_RESULT, process_error, thrown_as_error};
use crate::value::{ObjId, Value};
use crate::vm::{Thrown, Vm, VmResult};
use std::sync::{Arc, Weak};

/// `spawn_interpreter(f, args...)`.
pub fn spawn_interpreter(vm: &mut Vm, args: &[Value]) -> VmResult<Value> {
    let Some((&f, rest)) = args.split_first() else {
        return Err(vm.type_error("spawn_interpreter() takes at least 1 argument but 0 were given"));
    };
    if !matches!(f, Value::Func(_) | Value::Builtin(_)) {
        let t = f.type_name(&vm.it.heap);
        return Err(vm.type_error(format!("spawn_interpreter() needs a function, not {t}")));
    }
    start(vm, f, rest).map(Value::Obj)
}

/// Starts `f(args...)` in a new interpreter; returns its object (rooted until joined).
pub(super) fn start(vm: &mut Vm, f: Value, args: &[Value]) -> VmResult<ObjId> {
    let (Some(recipe), Some(family)) = (vm.it.recipe.clone(), vm.it.family.clone()) else {
        return Err(process_error(vm, "this interpreter cannot start others"));
    };
    let image = image::take(vm, f, args)?;
    let gil = vm.it.gil();
    let config = gil.settings();
    let output = vm.it.output.sibling();
    let number = family.reserve_number();
    let link = Link::new();
    let child_link = link.clone();
    let spawned = vm.release(move || {
        std::thread::Builder::new()
            .name(format!("toy-interp-{number}"))
            .stack_size(64 << 20)
            .spawn(move || {
                let _ends_link = EndsLinkOnUnwind(child_link.clone());
                let gil = recipe(config, output);
                run(gil, image, child_link, family, number)
            })
    });
    match spawned {
        Ok(handle) => {
            let obj = InterpreterObj {
                number,
                link,
                handle: Some(handle),
                outcome: None,
                death: None,
                observed: false,
            };
            let id = vm.it.heap.alloc(Obj::Interpreter(Box::new(obj)));
            vm.it.interpreters.push(id);
            Ok(id)
        }
        Err(e) => Err(process_error(vm, format!("cannot start an interpreter: {e}"))),
    }
}

/// Ends the link as failed if the interpreter's thread unwinds before ending it (a panic:
/// an internal error, reported on stderr by the panic itself), so that the spawner's
/// `recv` and `join` return an error instead of waiting forever for an ending. After the
/// thread has ended the link itself it changes nothing: the first ending stands.
struct EndsLinkOnUnwind(Arc<Link>);

impl Drop for EndsLinkOnUnwind {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0
                .end(Ending::Failed("it stopped on an internal error".to_string()));
        }
    }
}

/// The life of a spawned interpreter, on its own thread, with its own lock `gil`.
fn run(gil: crate::threads::SharedGil, image: image::Image, link: Arc<Link>, family: Arc<Family>, number: u32) {
    let breaker = gil.eval_breaker_handle();
    let lock: Weak<dyn Telemetry> = Arc::downgrade(&gil) as Weak<dyn Telemetry>;
    family.join(number, lock, breaker.clone());
    *link.breaker.lock() = Some(breaker);
    let tid = gil.register_thread();
    let mut vm = Vm::new(gil.acquire(tid));
    vm.it.family = Some(family.clone());
    vm.it.number = number;
    vm.it.main_thread = tid;
    let chan = vm.it.heap.alloc(Obj::Channel(Box::new(ChannelObj {
        channel: Channel {
            stream: None,
            encoder: None,
            buf: None,
        },
        link: Some(link.clone()),
    })));
    vm.it.parent_channel = Some(chan);
    let ending = match image::restore(&mut vm.it, image) {
        Ok((f, args)) => {
            let result = vm.run_function(f, &args);
            finish(&mut vm, result)
        }
        Err(why) => Ending::Failed(format!("cannot copy the globals: {why}")),
    };
    vm.flush_output();
    family.ended(number, &*gil);
    link.end(ending);
    vm.finish_thread();
}

/// Waits for the interpreter's own threads, children and interpreters, reports their
/// unobserved failures on stderr, and turns the function's outcome into the link's ending.
fn finish(vm: &mut Vm, result: VmResult<Value>) -> Ending {
    let ending = match result {
        Ok(v) => match encode_frame(vm, KIND_RESULT, v) {
            Ok(frame) => Ending::Frame(frame),
            Err(t) => error_ending(vm, &t),
        },
        Err(t) => match t.exit {
            Some(code) => Ending::Exit(code),
            None => error_ending(vm, &t),
        },
    };
    vm.flush_output();
    let mut reports = Vec::new();
    let waited = crate::threads::wait_all(vm)
        .and_then(|r| {
            reports.extend(r);
            crate::process::wait_all(vm)
        })
        .and_then(|r| {
            reports.extend(r);
            super::join::wait_all(vm)
        });
    if let Ok(r) = waited {
        reports.extend(r);
    }
    if !reports.is_empty() {
        let text = reports.concat();
        vm.flush_output();
        vm.release(move || crate::output::write_stderr(&text));
    }
    // A thread that called exit() after the function returned still decides the code.
    match (ending, vm.it.exit_request) {
        (Ending::Frame(_) | Ending::Failed(_), Some(code)) => Ending::Exit(code),
        (ending, _) => ending,
    }
}

/// The error frame for an error `f` threw (or one its result could not be sent with):
/// the error value with its traceback, as a child process sends it.
fn error_ending(vm: &mut Vm, t: &Thrown) -> Ending {
    let value = thrown_as_error(vm, t);
    match encode_frame(vm, KIND_ERROR, value) {
        Ok(frame) => Ending::Frame(frame),
        Err(_) => Ending::Failed("its error could not be sent".into()),
    }
}

/// The hidden builtin `<map chunk>(f, items)`: `[f(x) for x in items]`, what each `pmap`
/// worker thread or interpreter runs.
pub fn map_chunk(vm: &mut Vm, args: &[Value]) -> VmResult<Value> {
    let (&[f, Value::List(items)], _) = (args, ()) else {
        return Err(vm.type_error("<map chunk>() takes a function and a list"));
    };
    let n = vm.it.heap.list(items).len();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let Some(&x) = vm.it.heap.list(items).get(i) else { break };
        // The results so far are in `out`, a Rust local: keep collection off meanwhile.
        out.push(vm.call_value(f, &[x])?);
    }
    Ok(vm.it.heap.new_list(out))
}

/// `pmap(f, items, workers, "interpreters" | "threads")`: `f` over `items` in `workers`
/// interpreters or threads, each taking a contiguous share; results in order. Every
/// worker is joined, also when one fails; the first failure is the error thrown.
pub fn pmap(vm: &mut Vm, f: Value, items: Vec<Value>, workers: usize, threads: bool) -> VmResult<Value> {
    if items.is_empty() {
        return Ok(vm.it.heap.new_list(Vec::new()));
    }
    let Some(worker) = vm.it.map_chunk else {
        return Err(process_error(vm, "pmap() has no worker function here"));
    };
    let workers = workers.clamp(1, items.len());
    let share = items.len().div_ceil(workers);
    let mut started: Vec<ObjId> = Vec::with_capacity(workers);
    let mut failure = None;
    for chunk in items.chunks(share) {
        let chunk = vm.it.heap.new_list(chunk.to_vec());
        let spawned = if threads {
            crate::threads::spawn(vm, &[worker, f, chunk]).map(|t| match t {
                Value::Obj(id) => id,
                _ => unreachable!("spawn returns a thread object"),
            })
        } else {
            start(vm, worker, &[f, chunk])
        };
        match spawned {
            Ok(w) => started.push(w),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let mut results = Vec::with_capacity(items.len());
    for &id in &started {
        let joined = if threads {
            crate::threads::join(vm, id, None)
        } else {
            super::join::join(vm, id)
        };
        match joined {
            Ok(Value::List(l)) => results.extend(vm.it.heap.list(l).iter().copied()),
            Ok(_) => {}
            Err(e) if vm.is_interrupt(&e) => {
                if !threads {
                    vm.it.interpreters.retain(|i| !started.contains(i));
                }
                return Err(e);
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    // Joined interpreters stay rooted until here: their results are still being gathered.
    if !threads {
        vm.it.interpreters.retain(|i| !started.contains(i));
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(vm.it.heap.new_list(results)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_panics_ends_its_link_as_failed() {
        let link = Link::new();
        let in_thread = link.clone();
        let outcome = std::thread::spawn(move || {
            let _ends_link = EndsLinkOnUnwind(in_thread);
            panic!("an internal error in a spawned interpreter (expected by this test)");
        })
        .join();
        assert!(outcome.is_err(), "the thread panicked");
        assert!(link.has_ended());
        assert!(link.to_parent.is_closed() && link.to_child.is_closed());
        assert_eq!(
            link.take_ending(),
            Some(Ending::Failed("it stopped on an internal error".to_string()))
        );
    }

    #[test]
    fn a_thread_that_ends_its_link_keeps_its_own_ending() {
        let link = Link::new();
        let in_thread = link.clone();
        std::thread::spawn(move || {
            let _ends_link = EndsLinkOnUnwind(in_thread.clone());
            in_thread.end(Ending::Exit(3));
        })
        .join()
        .expect("the thread ends normally");
        assert_eq!(link.take_ending(), Some(Ending::Exit(3)));
    }
}
