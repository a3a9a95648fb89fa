//! A toy `Value` cannot be carried into code that runs with the GIL released: values
//! are `!Send`, and `release_while` takes only `Send` closures.
use toy::Value;
use toy::gil::{Gil, GilConfig};

fn main() {
    // SAFETY: every `Value` stays in the state or in locals used while the GIL is held.
    let gil = unsafe { Gil::new_unchecked(vec![Value::int(7)], GilConfig::default()) };
    let main = gil.register_thread();
    let mut g = gil.acquire(main);
    let value = g[0];
    g.release_while(move || drop(value));
}
