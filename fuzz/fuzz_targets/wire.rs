//! Fuzz target for the message format: any bytes are decoded as a payload and read as a
//! stream of frames. Neither may panic, overflow the stack or allocate beyond what the input
//! justifies; and whatever `decode` accepts must re-encode to exactly the same bytes (the
//! format has one encoding per value, so a decoder that accepted anything else would be
//! reading something the encoder never wrote).
#![no_main]

use libfuzzer_sys::fuzz_target;
use toy::wire::{self, Builder, Encoder, WireError};

/// A decoded value, kept as a tree so it can be written back out.
enum Tree {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Tree>),
    Map(Vec<(Tree, Tree)>),
    Error(String, String, Vec<(String, u32, String)>),
}

struct TreeBuilder;

impl Builder for TreeBuilder {
    type Value = Tree;
    fn nil(&mut self) -> Tree {
        Tree::Nil
    }
    fn bool(&mut self, b: bool) -> Tree {
        Tree::Bool(b)
    }
    fn int(&mut self, i: i64) -> Tree {
        Tree::Int(i)
    }
    fn float(&mut self, f: f64) -> Tree {
        Tree::Float(f)
    }
    fn str(&mut self, s: &str) -> Tree {
        Tree::Str(s.to_owned())
    }
    fn list(&mut self, items: Vec<Tree>) -> Tree {
        Tree::List(items)
    }
    fn map(&mut self, pairs: Vec<(Tree, Tree)>) -> Result<Tree, WireError> {
        // Exercise the receiver's right to refuse: a float key is rejected, as toy would.
        if pairs.iter().any(|(k, _)| matches!(k, Tree::Float(_))) {
            return Err(WireError("float key".into()));
        }
        Ok(Tree::Map(pairs))
    }
    fn error(&mut self, kind: &str, message: &str, traceback: Vec<(String, u32, String)>) -> Tree {
        Tree::Error(kind.to_owned(), message.to_owned(), traceback)
    }
}

fn encode(e: &mut Encoder, t: &Tree) {
    match t {
        Tree::Nil => e.nil(),
        Tree::Bool(b) => e.bool(*b),
        Tree::Int(i) => e.int(*i),
        Tree::Float(f) => e.float(*f),
        Tree::Str(s) => e.str(s),
        Tree::List(items) => {
            e.list(items.len());
            items.iter().for_each(|t| encode(e, t));
        }
        Tree::Map(pairs) => {
            e.map(pairs.len());
            for (k, v) in pairs {
                encode(e, k);
                encode(e, v);
            }
        }
        Tree::Error(kind, message, tb) => {
            let tb: Vec<(&str, u32, &str)> = tb.iter().map(|(f, l, n)| (f.as_str(), *l, n.as_str())).collect();
            e.error(kind, message, &tb);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(tree) = wire::decode(data, &mut TreeBuilder) {
        let mut e = Encoder::new();
        encode(&mut e, &tree);
        assert_eq!(&e.finish()[wire::PREFIX_LEN..], data, "decode accepted a non-canonical encoding");
    }
    let mut stream = std::io::Cursor::new(data);
    let mut buf = Vec::new();
    while let Ok(true) = wire::read_frame(&mut stream, &mut buf, 1 << 16) {
        let _ = wire::decode(&buf, &mut TreeBuilder);
    }
});
