//! An interpreter (its heap, its values, the main thread's fiber) stays on the thread that
//! built it: to run interpreters in parallel, a host builds each on the thread that runs
//! it, so no thread ever reaches another interpreter's values.
use toy::Interpreter;

fn main() {
    let mut toy = Interpreter::new();
    std::thread::scope(|s| {
        s.spawn(move || toy.run_source("x.toy", "print(1)"));
    });
}
