//! `pmap(f, items, workers)`: a map spread over forked workers, results in order.
//!
//! Invariant: every worker is joined, also when one fails, and the first failure is the
//! error `pmap` throws; on Ctrl-C every worker still running is killed and reaped.

use super::channel::process_obj;
use super::fork::{finish_child, fork_child};
use super::parent::{join, kill};
use crate::value::{ObjId, Value};
use crate::vm::{Vm, VmResult};
/// `pmap(f, items)` / `pmap(f, items, workers)`: `f` over `items` in forked workers, each
/// taking a contiguous share (the items arrive by fork, not by message); results in order.
pub fn pmap(vm: &mut Vm, f: Value, items: Vec<Value>, workers: usize) -> VmResult<Value> {
    if items.is_empty() {
        return Ok(vm.it.heap.new_list(Vec::new()));
    }
    let workers = workers.clamp(1, items.len());
    let share = items.len().div_ceil(workers);
    let mut children = Vec::with_capacity(workers);
    for chunk in items.chunks(share) {
        let chunk = chunk.to_vec();
        let spawned = fork_child(vm, move |vm| {
            let mut out = Vec::with_capacity(chunk.len());
            let mut failure = None;
            for x in chunk {
                match vm.run_function(f, &[x]) {
                    Ok(v) => out.push(v),
                    Err(t) => {
                        failure = Some(t);
                        break;
                    }
                }
            }
            let result = match failure {
                Some(t) => Err(t),
                None => Ok(vm.it.heap.new_list(out)),
            };
            finish_child(vm, result)
        });
        match spawned {
            Ok(id) => children.push(id),
            Err(e) => {
                for id in children {
                    let _ = kill(vm, id);
                    let _ = join(vm, id);
                }
                return Err(e);
            }
        }
    }
    // The children's objects are the caller's temporaries: keep them rooted as processes
    // until joined (fork_child registered them).
    let mut results = Vec::with_capacity(items.len());
    let mut first_error = None;
    for (i, &id) in children.iter().enumerate() {
        match join(vm, id) {
            Ok(Value::List(l)) => results.extend(vm.it.heap.list(l).iter().copied()),
            Ok(_) => {}
            Err(e) if vm.is_interrupt(&e) => {
                abandon(vm, &children[i..]);
                return Err(e);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
        vm.it.processes.retain(|p| *p != id);
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(vm.it.heap.new_list(results)),
    }
}

/// Ctrl-C while `pmap` waits: its workers are its own (nobody else can join them), so they
/// are killed and reaped, and their deaths are not reported. A worker a further Ctrl-C
/// leaves unreaped is reaped, silently, at the end of the program.
fn abandon(vm: &mut Vm, workers: &[ObjId]) {
    for &id in workers {
        let _ = kill(vm, id);
        process_obj(vm, id).observed = true;
    }
    for &id in workers {
        match join(vm, id) {
            Err(e) if vm.is_interrupt(&e) => return,
            _ => vm.it.processes.retain(|p| *p != id),
        }
    }
}
