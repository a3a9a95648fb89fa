//! Waiting for spawned interpreters: `i.join()`, `i.is_alive()`, and the end of the
//! spawner, which waits for every interpreter it has not joined and reports the failures
//! nobody observed.
//!
//! Invariant: an interpreter's ending is taken from its link once, decoded into the
//! spawner's heap and kept in its object (a collector root until joined at the end), and
//! its OS thread is joined once it has ended.

use super::messages::decode;
use super::wait::{Side, wait_change};
use crate::link::Ending;
use crate::object::{InterpreterObj, Obj, Outcome, Traceback};
use crate::process::{KIND_RESULT, Sender, child_error_text, child_exit_report, process_error};
use crate::value::{ObjId, Value};
use crate::vm::{Vm, VmResult};

fn interp_obj<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut InterpreterObj {
    match vm.it.heap.get_mut(id) {
        Obj::Interpreter(i) => i,
        _ => unreachable!("an interpreter handle names an interpreter object"),
    }
}

/// Waits until the interpreter has ended, then records how (once).
fn wait_ended(vm: &mut Vm, id: ObjId) -> VmResult<()> {
    let link = interp_obj(vm, id).link.clone();
    loop {
        let seen = link.to_parent.signal.generation();
        if link.has_ended() {
            break;
        }
        wait_change(vm, &link, Side::ToParent, seen, None)?;
    }
    let Some(ending) = link.take_ending() else {
        return Ok(()); // recorded already
    };
    let number = interp_obj(vm, id).number;
    match ending {
        Ending::Frame(frame) => match decode(vm, &frame, Sender::Child) {
            Ok((kind, v)) => {
                interp_obj(vm, id).outcome = Some(if kind == KIND_RESULT {
                    Outcome::Returned(v)
                } else {
                    Outcome::Threw {
                        value: v,
                        traceback: Traceback::default(),
                        report: String::new(),
                    }
                });
            }
            Err(t) => {
                let text = vm.error_line(t.value);
                interp_obj(vm, id).death = Some(format!("interpreter {number} sent a bad result: {text}"));
            }
        },
        Ending::Exit(code) => {
            interp_obj(vm, id).death = Some(format!("interpreter {number} exited with code {code}"));
        }
        Ending::Failed(why) => {
            interp_obj(vm, id).death = Some(format!("interpreter {number} failed: {why}"));
        }
    }
    if let Some(handle) = interp_obj(vm, id).handle.take() {
        // It has ended: its thread is only letting its lock go.
        vm.release(move || handle.join().is_ok());
    }
    Ok(())
}

/// `i.join()`: the function's result, or a `ProcessError` saying what went wrong.
pub fn join(vm: &mut Vm, id: ObjId) -> VmResult<Value> {
    wait_ended(vm, id)?;
    let i = interp_obj(vm, id);
    i.observed = true;
    let number = i.number;
    match (&i.outcome, &i.death) {
        (Some(Outcome::Returned(v)), _) => Ok(*v),
        (Some(Outcome::Threw { value, .. }), _) => {
            let value = *value;
            let text = child_error_text(vm, value);
            Err(process_error(vm, format!("interpreter {number} failed: {text}")))
        }
        (None, death) => {
            let text = death
                .clone()
                .unwrap_or_else(|| format!("interpreter {number} ended without a result"));
            Err(process_error(vm, text))
        }
    }
}

/// `i.is_alive()`.
pub fn is_alive(vm: &mut Vm, id: ObjId) -> bool {
    !interp_obj(vm, id).link.has_ended()
}

/// At the end of a program (or of a spawned interpreter): hangs up on every interpreter
/// not yet joined, waits for them, and returns the reports of failures nobody observed.
/// Ctrl-C (in the main thread) stops the wait with `Interrupt`.
pub fn wait_all(vm: &mut Vm) -> VmResult<Vec<String>> {
    // Nothing more will be sent: one waiting in `parent().recv()` gets a ProcessError
    // instead of waiting forever for a spawner that waits for it.
    for id in vm.it.interpreters.clone() {
        interp_obj(vm, id).link.to_child.close();
    }
    let mut reports = Vec::new();
    while let Some(&id) = vm.it.interpreters.first() {
        if let Err(t) = wait_ended(vm, id)
            && vm.is_interrupt(&t)
        {
            return Err(t);
        }
        vm.it.interpreters.remove(0);
        let i = interp_obj(vm, id);
        if i.observed {
            continue;
        }
        let number = i.number;
        match (&i.outcome, &i.death) {
            (Some(Outcome::Returned(_)), _) => {}
            (Some(Outcome::Threw { value, .. }), _) => {
                let value = *value;
                let text = child_exit_report(vm, value);
                reports.push(format!("Exception in interpreter {number}:\n{text}\n"));
            }
            (None, Some(death)) => reports.push(format!("{death}\n")),
            (None, None) => {}
        }
    }
    Ok(reports)
}
