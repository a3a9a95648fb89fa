//! The interactive prompt: line editing and history (rustyline), multi-line entries while a
//! bracket is open, the value of an expression statement echoed, errors that do not end
//! the session, and Ctrl-C: at the prompt it abandons the line, while an entry runs it
//! interrupts the entry (`Interrupt`) and the prompt comes back. Threads started at the
//! prompt run in the background; their failures are reported before the next prompt, and
//! the end of the session waits for them as the end of a script does (exit 1 if one
//! failed). Only for a terminal: `main.rs` runs piped standard input as a script.
//!
//! It is part of the command line, not the library: like `main.rs` it uses only the public
//! embedding API.
//!
//! Invariant: one `Interpreter` lives for the whole session, so globals declared in one
//! entry are visible in the next.

use crate::{write_err, write_out};
use rustyline::error::ReadlineError;
use toy::{Interpreter, RunError};

const HISTORY_FILE: &str = ".toy_history";

/// Runs the prompt until end of input; returns the process exit code.
pub fn run(mut interp: Interpreter) -> i32 {
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            write_err(&format!("toy: cannot start the prompt: {e}\n"));
            return 2;
        }
    };
    // The line editor took SIGINT for itself (it reads Ctrl-C as a key while it edits, in
    // raw mode, and restores our handler when it goes): take it back, so Ctrl-C while an
    // entry runs interrupts the entry.
    if let Err(e) = interp.handle_ctrl_c() {
        write_err(&format!("toy: Ctrl-C will not interrupt entries: {e}\n"));
    }
    let history = std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(HISTORY_FILE));
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    write_out(&format!(
        "toy {} — an interpreter with a real GIL. Ctrl-D exits.\n",
        env!("CARGO_PKG_VERSION")
    ));
    let mut entry = String::new();
    // A thread failed (and was reported): the session ends with exit code 1, as a script.
    let mut failed = false;
    let code = loop {
        if entry.is_empty() {
            // Threads' failures since the last entry, before the prompt that follows them.
            for report in interp.thread_failures() {
                write_err(&report);
                failed = true;
            }
        }
        let prompt = if entry.is_empty() { ">>> " } else { "... " };
        match editor.readline(prompt) {
            Ok(line) => {
                entry.push_str(&line);
                entry.push('\n');
                if toy::is_incomplete(&entry) {
                    continue;
                }
                let _ = editor.add_history_entry(entry.trim_end());
                let result = interp.run_repl_entry(&entry);
                entry.clear();
                interp.flush();
                match result {
                    Ok(()) => {}
                    Err(RunError::Exit(code)) => break code,
                    Err(e) => write_err(&format!("{e}\n")),
                }
            }
            Err(ReadlineError::Interrupted) => {
                if !entry.is_empty() {
                    entry.clear();
                }
                write_out("Interrupt\n");
            }
            Err(ReadlineError::Eof) => break 0,
            Err(e) => {
                write_err(&format!("toy: {e}\n"));
                break 1;
            }
        }
    };
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    drop(editor);
    // The end of the session is the end of a script: wait for the threads and children
    // still running, report what failed, and write the telemetry.
    let waited = interp.wait_for_threads();
    for report in interp.thread_failures() {
        write_err(&report);
        failed = true;
    }
    let code = match waited {
        Ok(()) if failed => code.max(1),
        Ok(()) => code,
        Err(RunError::Runtime(text)) => {
            write_err(&text);
            code.max(1)
        }
        Err(e) => e.exit_code(),
    };
    interp.flush();
    match interp.finish_telemetry() {
        Ok(()) => code,
        Err(e) => {
            write_err(&format!("{e}\n"));
            code.max(1)
        }
    }
}
