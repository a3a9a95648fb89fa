//! Source lines as the GIL knows them: the lock charges waits to opaque numbers
//! ([`Location`]) and this table turns a `file:line` into one and back. Invariant: a
//! `file:line` gets one number for the interpreter's life, numbers are dense from 0, and
//! the names are shared with the lock (which reads them from any thread, without the GIL)
//! only as text.

use std::rc::Rc;
use std::sync::Arc;

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::gil::{Location, LocationNames};

/// The numbers given so far, and their names.
#[derive(Default)]
pub struct Locations {
    /// File, then line, to number: read under the GIL only.
    numbers: FxHashMap<Rc<str>, FxHashMap<u32, u32>>,
    /// `file:line` by number, for the lock.
    names: Arc<Mutex<Vec<String>>>,
}

impl Locations {
    /// The number of `file:line`, given one if it has none yet.
    pub fn at(&mut self, file: &Rc<str>, line: u32) -> Location {
        let lines = match self.numbers.get_mut(&**file) {
            Some(lines) => lines,
            None => self.numbers.entry(file.clone()).or_default(),
        };
        if let Some(&n) = lines.get(&line) {
            return Location(n);
        }
        let mut names = self.names.lock();
        let n = names.len() as u32;
        names.push(format!("{file}:{line}"));
        lines.insert(line, n);
        Location(n)
    }

    /// The names, for the lock's statistics and trace.
    pub fn names(&self) -> LocationNames {
        let names = self.names.clone();
        LocationNames::new(move |at| names.lock().get(at.0 as usize).cloned())
    }
}
