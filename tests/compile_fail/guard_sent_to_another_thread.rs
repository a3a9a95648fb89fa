//! A guard stands for "this OS thread holds the GIL", so it cannot move to another thread
//! (not even to be dropped there).
use toy::gil::{Gil, GilConfig};

fn main() {
    let gil = Gil::new(0u32, GilConfig::default());
    let main = gil.register_thread();
    let g = gil.acquire(main);
    std::thread::scope(|s| {
        s.spawn(move || drop(g));
    });
}
