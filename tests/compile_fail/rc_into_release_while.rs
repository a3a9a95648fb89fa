//! An `Rc` out of the interpreter state cannot be carried into code that runs with the
//! GIL released: its count would be touched by a thread that does not hold the GIL.
use std::rc::Rc;
use toy::gil::{Gil, GilConfig};

struct Interp {
    names: Vec<Rc<str>>,
}

fn main() {
    // SAFETY: every `Rc` stays in the state or in locals used while the GIL is held.
    let gil = unsafe { Gil::new_unchecked(Interp { names: vec![Rc::from("x")] }, GilConfig::default()) };
    let main = gil.register_thread();
    let mut g = gil.acquire(main);
    let name = Rc::clone(&g.names[0]);
    let len = g.release_while(move || name.len());
    assert_eq!(len, 1);
}
