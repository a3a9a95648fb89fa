//! Fuzz target for the message format: any bytes are decoded as a payload (whole, and fed
//! in pieces as it would arrive, with its length known or not yet known) and read as a
//! stream of frames, whole or streamed, in pieces. None of it may panic, overflow the stack
//! or allocate beyond what the input justifies; whatever `decode` accepts must re-encode to
//! exactly the same bytes (the format has one encoding per value, so a decoder that accepted
//! anything else would be reading something the encoder never wrote); and decoding in pieces
//! must accept exactly what decoding whole accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use toy::wire::{self, Builder, Decoder, Encoder, Length, PieceReader, WireError};

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

/// The canonical encoding of a decoded value, to compare results without `PartialEq`.
fn bytes_of(t: &Tree) -> Vec<u8> {
    let mut e = Encoder::new();
    encode(&mut e, t);
    e.finish()[wire::PREFIX_LEN..].to_vec()
}

/// `data` fed to one decoder in pieces of `piece` bytes; `known` says whether the length is
/// given from the start or only with the last piece (a streamed frame).
fn in_pieces(data: &[u8], piece: usize, known: bool) -> Result<Tree, WireError> {
    let mut d = Decoder::new();
    let mut end = 0;
    loop {
        end = (end + piece).min(data.len());
        let len = if known || end == data.len() {
            Length::Exactly(data.len())
        } else {
            Length::AtMost(data.len() + 64)
        };
        match d.feed(&data[..end], len, &mut TreeBuilder)? {
            Some(t) => return Ok(t),
            None => assert!(end < data.len(), "the whole payload, and still waiting"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = wire::decode(data, &mut TreeBuilder);
    if let Ok(tree) = &whole {
        assert_eq!(bytes_of(tree), data, "decode accepted a non-canonical encoding");
    }
    let piece = 1 + data.first().map_or(0, |b| (b % 16) as usize);
    for known in [true, false] {
        let pieced = in_pieces(data, piece, known);
        match (&whole, &pieced) {
            (Ok(a), Ok(b)) => assert_eq!(bytes_of(a), bytes_of(b), "pieces decode differently"),
            (Err(a), Err(b)) if known => assert_eq!(a, b, "pieces fail differently"),
            (Err(_), Err(_)) => {}
            _ => panic!("whole and pieces disagree on whether the payload is good"),
        }
    }
    let mut stream = std::io::Cursor::new(data);
    let mut buf = Vec::new();
    while let Ok(true) = wire::read_frame(&mut stream, &mut buf, 1 << 16) {
        let _ = wire::decode(&buf, &mut TreeBuilder);
    }
    // The same stream read a piece at a time, decoding as the pieces come.
    let mut stream = std::io::Cursor::new(data);
    while let Ok(Some(mut pieces)) = PieceReader::start(&mut stream, &mut buf, 1 << 16) {
        let mut d = Decoder::new();
        loop {
            if pieces.next(&mut stream, &mut buf, piece).is_err() || pieces.abandoned() {
                break;
            }
            match d.feed(pieces.payload(&buf), pieces.length(), &mut TreeBuilder) {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) => assert!(!pieces.is_complete(), "a whole payload, and still waiting"),
            }
        }
        while !pieces.is_complete() && pieces.next(&mut stream, &mut buf, usize::MAX).is_ok() {}
        if !pieces.is_complete() {
            break;
        }
    }
});
