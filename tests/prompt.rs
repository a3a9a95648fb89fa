//! The interactive prompt in a real terminal, driven as a person would drive it: toy runs
//! in a new session whose controlling terminal is a pseudo-terminal, so Ctrl-C typed there
//! becomes SIGINT exactly as at a keyboard (while an entry runs) or a key the line editor
//! reads (while it waits for input). Entries echo their value, open brackets continue the
//! entry, errors do not end the session, lines typed ahead are all run, Ctrl-C interrupts a
//! running entry and returns to the prompt, and threads' errors are reported and waited for.

use nix::pty::{Winsize, openpty};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// How long any one expected text may take to appear (generous: the machine is shared).
const PATIENCE: Duration = Duration::from_secs(30);

/// toy's prompt on the slave side of a pseudo-terminal; the test holds the master side.
struct Terminal {
    child: Child,
    keyboard: std::fs::File,
    screen: Receiver<Vec<u8>>,
    /// Everything toy has written so far.
    seen: String,
    /// Where the next `expect` starts looking.
    cursor: usize,
}

impl Terminal {
    fn start() -> Terminal {
        Terminal::start_in(&std::env::current_dir().expect("current directory"))
    }

    /// The prompt started in `dir`, where its `import`s look first.
    fn start_in(dir: &std::path::Path) -> Terminal {
        let size = Winsize {
            ws_row: 24,
            ws_col: 100,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(&size, None).expect("openpty");
        let home = std::env::temp_dir().join(format!("toy-prompt-home-{}", std::process::id()));
        std::fs::create_dir_all(&home).expect("a home for the history file");
        // `setsid --ctty` gives toy a session of its own with the terminal as its
        // controlling terminal, so the terminal's Ctrl-C signals toy's process group.
        let child = Command::new("setsid")
            .arg("--ctty")
            .arg(env!("CARGO_BIN_EXE_toy"))
            .stdin(Stdio::from(pty.slave.try_clone().expect("dup")))
            .stdout(Stdio::from(pty.slave.try_clone().expect("dup")))
            .stderr(Stdio::from(pty.slave))
            .env("HOME", &home)
            .env("TERM", "xterm")
            .env_remove("TOY_PATH")
            .current_dir(dir)
            .spawn()
            .expect("start toy in a terminal");
        let keyboard = std::fs::File::from(pty.master);
        let mut reader = keyboard.try_clone().expect("dup");
        let (tx, screen) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // The read fails (EIO) once toy and everything it started have closed the terminal.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal {
            child,
            keyboard,
            screen,
            seen: String::new(),
            cursor: 0,
        }
    }

    fn type_keys(&mut self, keys: &str) {
        self.keyboard.write_all(keys.as_bytes()).expect("type");
    }

    /// Waits until `text` appears after what earlier expectations matched, and moves past it.
    fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(at) = self.seen[self.cursor..].find(text) {
                self.cursor += at + text.len();
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.screen.recv_timeout(left) {
                Ok(bytes) => self.seen.push_str(&String::from_utf8_lossy(&bytes)),
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("{text:?} did not appear; the terminal shows:\n{}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("toy closed the terminal before {text:?}; it showed:\n{}", self.seen)
                }
            }
        }
    }

    /// Everything after the last expectation, once toy has exited; and its exit code.
    fn finish(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("toy did not exit; the terminal shows:\n{}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(bytes) = self.screen.recv_timeout(Duration::from_millis(500)) {
            self.seen.push_str(&String::from_utf8_lossy(&bytes));
        }
        (status.code(), self.seen[self.cursor..].to_string())
    }
}

#[test]
fn entries_echo_continue_and_survive_errors() {
    let mut t = Terminal::start();
    t.expect(">>> ");
    t.type_keys("let xs = [1,\n");
    t.expect("... ");
    t.type_keys("2, 3]\n");
    t.expect(">>> ");
    t.type_keys("xs\n");
    t.expect("[1, 2, 3]");
    t.expect(">>> ");
    t.type_keys("1 / 0\n");
    t.expect("ZeroDivisionError: division by zero");
    t.expect(">>> ");
    t.type_keys("fn double(n) {\n");
    t.expect("... ");
    t.type_keys("  return n * 2\n");
    t.expect("... ");
    t.type_keys("}\n");
    t.expect(">>> ");
    t.type_keys("double(len(xs))\n");
    t.expect("6\r\n");
    t.expect(">>> ");
    t.type_keys("\"te\" + \"xt\"\n");
    t.expect("\"text\"");
    t.expect(">>> ");
    t.type_keys("\x04");
    let (code, _) = t.finish();
    assert_eq!(code, Some(0));
}

/// Ctrl-C while an entry runs stops it with `Interrupt` and the session goes on; Ctrl-C at
/// an empty prompt prints `Interrupt` and shows the prompt again.
#[test]
fn ctrl_c_interrupts_a_running_entry_and_returns_to_the_prompt() {
    let mut t = Terminal::start();
    t.expect(">>> ");
    t.type_keys("\x03");
    t.expect("Interrupt");
    t.expect(">>> ");
    // What the entry prints is spelled differently from what is typed, so the echo of the
    // typed line cannot satisfy the expectation.
    t.type_keys("print(\"spin\" + \"ning\"); while true { }\n");
    t.expect("spinning");
    t.type_keys("\x03");
    t.expect("Interrupt: interrupted by Ctrl-C");
    t.expect(">>> ");
    t.type_keys("print(6 * 7)\n");
    t.expect("42");
    t.expect(">>> ");
    t.type_keys("\x04");
    let (code, _) = t.finish();
    assert_eq!(code, Some(0));
}

/// Two lines typed before the first one runs are both run, in order.
#[test]
fn lines_typed_ahead_are_all_run() {
    let mut t = Terminal::start();
    t.expect(">>> ");
    t.type_keys("print(10 + 1)\nprint(20 + 2)\n");
    t.expect("11");
    t.expect("22");
    t.expect(">>> ");
    t.type_keys("\x04");
    let (code, _) = t.finish();
    assert_eq!(code, Some(0));
}

/// A thread that fails is reported as in a script (`Exception in thread N:` and the
/// traceback) before the next prompt at the latest, once, and the session's exit code is 1.
#[test]
fn a_failing_thread_is_reported_and_makes_the_exit_code_1() {
    let mut t = Terminal::start();
    t.expect(">>> ");
    t.type_keys("let th = spawn(fn() { throw error(\"Value\" + \"Error\", \"bo\" + \"om\") })\n");
    t.expect(">>> ");
    t.type_keys("while th.is_alive() { sleep(0.01) }\n");
    t.expect("Exception in thread 2:");
    t.expect("ValueError: boom");
    t.expect(">>> ");
    t.type_keys("\x04");
    let (code, rest) = t.finish();
    assert!(!rest.contains("boom"), "reported twice:\n{rest}");
    assert_eq!(code, Some(1));
}

/// Ctrl-D waits for the threads still running, as the end of a script does.
#[test]
fn the_end_of_the_session_waits_for_threads() {
    let mut t = Terminal::start();
    t.expect(">>> ");
    t.type_keys("spawn(fn() { sleep(0.3); print(\"la\" + \"te\") })\n");
    t.expect(">>> ");
    t.type_keys("\x04");
    let (code, rest) = t.finish();
    assert!(rest.contains("late"), "the thread's output is missing:\n{rest}");
    assert_eq!(code, Some(0));
}

/// The prompt imports modules from the directory it was started in: a module's top level
/// runs once, `from` binds copies, and a failed import is an error for that entry only.
#[test]
fn the_prompt_imports_modules_from_its_directory() {
    let dir = std::env::temp_dir().join(format!("toy-prompt-modules-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("lab")).expect("module directory");
    std::fs::write(
        dir.join("stats.toy"),
        "print(\"loading \" + \"stats\")\nfn mean(xs) { return sum(xs) / len(xs) }\n",
    )
    .expect("write stats.toy");
    std::fs::write(dir.join("lab/timing.toy"), "fn now() { return 6 * 7 }\n").expect("write");
    let mut t = Terminal::start_in(&dir);
    t.expect(">>> ");
    t.type_keys("import stats\n");
    t.expect("loading stats");
    t.expect(">>> ");
    t.type_keys("stats.mean([1, 2, 6])\n");
    t.expect("3.0");
    t.expect(">>> ");
    t.type_keys("import lab.timing as t\n");
    t.expect(">>> ");
    t.type_keys("t.now()\n");
    t.expect("42");
    t.expect(">>> ");
    t.type_keys("import nope\n");
    t.expect("ImportError: no module named 'nope'");
    t.expect(">>> ");
    // Imported again: the same module, its top level not run a second time.
    t.type_keys("from stats import mean\n");
    t.expect(">>> ");
    t.type_keys("mean([2, 4]) + len(\"ab\")\n");
    t.expect("5.0");
    t.expect(">>> ");
    let loads = t.seen.matches("loading stats").count();
    assert_eq!(loads, 1, "the module's top level ran {loads} times:\n{}", t.seen);
    t.type_keys("\x04");
    let (code, _) = t.finish();
    assert_eq!(code, Some(0));
}
