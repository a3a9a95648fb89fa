//! Lines of standard input for `input()`, read by one helper thread, so that a caller
//! waiting for a line can stop waiting (Ctrl-C in the main thread) and the line, when it
//! comes, is kept for the next caller instead of being lost.
//!
//! Invariant: the helper reads a line only when one was asked for and none is waiting, so
//! toy never takes more of standard input than the script asked for (another program, or
//! a forked child, may read the rest); lines arrive in order, each exactly once.

use parking_lot::{Condvar, Mutex};
use std::io::BufRead;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// What the helper thread has for the callers.
#[derive(Default)]
struct Shared {
    /// A line read and not yet taken: `Some(None)` is the end of input.
    ready: Option<Option<String>>,
    /// A caller wants a line and the helper has not answered yet.
    asked: bool,
}

struct Reader {
    state: Mutex<Shared>,
    changed: Condvar,
}

fn reader() -> &'static Arc<Reader> {
    static READER: OnceLock<Arc<Reader>> = OnceLock::new();
    READER.get_or_init(|| {
        let r = Arc::new(Reader {
            state: Mutex::new(Shared::default()),
            changed: Condvar::new(),
        });
        let helper = r.clone();
        let started = std::thread::Builder::new()
            .name("toy-stdin".into())
            .stack_size(64 << 10)
            .spawn(move || helper.serve());
        if started.is_err() {
            // No helper: every request sees the end of input rather than waiting forever.
            r.state.lock().ready = Some(None);
        }
        r
    })
}

impl Reader {
    fn serve(&self) {
        let stdin = std::io::stdin();
        loop {
            {
                let mut st = self.state.lock();
                while !(st.asked && st.ready.is_none()) {
                    self.changed.wait(&mut st);
                }
            }
            let mut line = String::new();
            let got = match stdin.lock().read_line(&mut line) {
                Ok(0) | Err(_) => None,
                Ok(_) => {
                    if line.ends_with('\n') {
                        line.pop();
                        if line.ends_with('\r') {
                            line.pop();
                        }
                    }
                    Some(line)
                }
            };
            let mut st = self.state.lock();
            st.ready = Some(got);
            st.asked = false;
            self.changed.notify_all();
        }
    }
}

/// What waiting for a line gave.
pub enum Line {
    /// The next line, without its line end.
    Text(String),
    /// Standard input is at its end (or unreadable).
    End,
    /// The deadline passed first; the line, when it comes, waits for the next call.
    NotYet,
}

/// Waits until the next line of standard input is there, or until `until` passes.
pub fn next_line(until: Option<Instant>) -> Line {
    let r = reader();
    let mut st = r.state.lock();
    if st.ready.is_none() && !st.asked {
        st.asked = true;
        r.changed.notify_all();
    }
    loop {
        if let Some(got) = st.ready.take() {
            return match got {
                Some(text) => Line::Text(text),
                None => {
                    // The end stays the end for every later caller.
                    st.ready = Some(None);
                    Line::End
                }
            };
        }
        match until {
            Some(d) => {
                if r.changed.wait_until(&mut st, d).timed_out() && st.ready.is_none() {
                    return Line::NotYet;
                }
            }
            None => r.changed.wait(&mut st),
        }
    }
}
