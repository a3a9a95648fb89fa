//! The `toy` command line: turns arguments into a configuration and calls the library.

use clap::{Parser, Subcommand};
use std::sync::atomic::Ordering;
use toy::interpreter::{Interpreter, RunError};

const EXAMPLES: &str = "\
Examples:
  toy run scripts/hello.toy            run a script
  toy scripts/hello.toy a b            the same; `a` and `b` are the script's argv()
  toy check prog.toy                   parse and compile only
  toy disasm prog.toy                  print every function's bytecode
  toy                                  start the interactive prompt";

#[derive(Parser)]
#[command(name = "toy", version, about = "An embeddable bytecode interpreter with a real global interpreter lock")]
#[command(after_help = EXAMPLES, allow_external_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a script; everything after FILE is the script's argv()
    #[command(after_help = "Example:\n  toy run scripts/hello.toy")]
    Run {
        /// The script to run
        file: String,
        /// Arguments for the script
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Parse and compile a script without running it (exit 2 on an error)
    #[command(after_help = "Example:\n  toy check prog.toy")]
    Check { file: String },
    /// Print the bytecode of every function in a script
    #[command(after_help = "Example:\n  toy disasm prog.toy")]
    Disasm { file: String },
    #[command(external_subcommand)]
    File(Vec<String>),
}

fn main() {
    // The whole interpreter runs on a thread with a large stack, so deeply nested input
    // is refused by the front end's own limits long before the Rust stack runs out.
    let worker = std::thread::Builder::new().name("toy-main".into()).stack_size(512 << 20).spawn(real_main);
    let code = match worker.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        _ => 101,
    };
    std::process::exit(code);
}

fn real_main() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        None => toy::repl::run(interpreter(Vec::new())),
        Some(Command::Run { file, args }) => run(&file, args),
        Some(Command::File(mut words)) => {
            let file = words.remove(0);
            run(&file, words)
        }
        Some(Command::Check { file }) => finish(read(&file).and_then(|src| {
            Interpreter::new().compile(&file, &src).map(|_| ())
        })),
        Some(Command::Disasm { file }) => finish(read(&file).and_then(|src| {
            let text = Interpreter::new().disassemble(&file, &src)?;
            print!("{text}");
            Ok(())
        })),
    }
}

fn interpreter(argv: Vec<String>) -> Interpreter {
    let interp = Interpreter::builder().argv(argv).build();
    let breaker = interp.breaker();
    // First Ctrl-C: throw Interrupt in the main thread at its next check point. A second
    // one before that happens ends the process, as a stuck builtin would never see it.
    let _ = ctrlc::set_handler(move || {
        let before = breaker.fetch_or(toy::vm::BREAK_INTERRUPT, Ordering::SeqCst);
        if before & toy::vm::BREAK_INTERRUPT != 0 {
            std::process::exit(130);
        }
    });
    interp
}

fn read(file: &str) -> Result<String, RunError> {
    toy::interpreter::read_source(file)
}

fn run(file: &str, args: Vec<String>) -> i32 {
    let mut interp = interpreter(args);
    let result = read(file).and_then(|src| interp.run_source(file, &src));
    interp.flush();
    finish(result)
}

fn finish(result: Result<(), RunError>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(RunError::Exit(code)) => code,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    }
}
