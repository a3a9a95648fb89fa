//! A reference into the state cannot be used while the GIL is released: `release_while`
//! needs the guard mutably, so no borrow of the state may be alive across it, even one
//! whose target is `Sync`.
use toy::gil::{Gil, GilConfig};

fn main() {
    let gil = Gil::new(vec![String::from("x")], GilConfig::default());
    let main = gil.register_thread();
    let mut g = gil.acquire(main);
    let first: &String = &g[0];
    let len = g.release_while(|| first.len());
    assert_eq!(len, 1);
}
