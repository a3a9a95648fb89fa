//! A guard cannot be shared with another thread either: through `&GilGuard` that thread
//! would read the state while the holder may be writing it.
use toy::gil::{Gil, GilConfig};

fn main() {
    let gil = Gil::new(0u32, GilConfig::default());
    let main = gil.register_thread();
    let g = gil.acquire(main);
    let g = &g;
    std::thread::scope(|s| {
        s.spawn(move || **g + 1);
    });
}
