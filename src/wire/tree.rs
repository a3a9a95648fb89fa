//! A wire value as a plain Rust tree, for the wire format's tests and its fuzz target (and
//! compiled only for them): built by the decoder (`TreeBuilder`), written back through any
//! `Sink` (`write`), compared by float bit pattern so that -0.0 and NaN payloads must survive
//! exactly. The interpreter never uses it: it decodes straight into its heap.

use super::decode::Builder;
use super::encode::{Encoder, Sink};
use super::format::{PREFIX_LEN, WireError};
use std::collections::HashSet;

/// A decoded value as a plain tree.
#[derive(Debug, Clone)]
pub enum Tree {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Tree>),
    Map(Vec<(Tree, Tree)>),
    Error(String, String, Vec<(String, u32, String)>),
}

impl PartialEq for Tree {
    fn eq(&self, other: &Tree) -> bool {
        match (self, other) {
            (Tree::Nil, Tree::Nil) => true,
            (Tree::Bool(a), Tree::Bool(b)) => a == b,
            (Tree::Int(a), Tree::Int(b)) => a == b,
            (Tree::Float(a), Tree::Float(b)) => a.to_bits() == b.to_bits(),
            (Tree::Str(a), Tree::Str(b)) => a == b,
            (Tree::List(a), Tree::List(b)) => a == b,
            (Tree::Map(a), Tree::Map(b)) => a == b,
            (Tree::Error(k, m, t), Tree::Error(k2, m2, t2)) => k == k2 && m == m2 && t == t2,
            _ => false,
        }
    }
}

/// Builds a `Tree` from what the decoder reads.
pub struct TreeBuilder;

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
        Ok(Tree::Map(pairs))
    }
    fn error(&mut self, kind: &str, message: &str, traceback: Vec<(String, u32, String)>) -> Tree {
        Tree::Error(kind.to_owned(), message.to_owned(), traceback)
    }
}

pub fn write<S: Sink>(e: &mut S, t: &Tree) {
    match t {
        Tree::Nil => e.nil(),
        Tree::Bool(b) => e.bool(*b),
        Tree::Int(i) => e.int(*i),
        Tree::Float(f) => e.float(*f),
        Tree::Str(s) => e.str(s),
        Tree::List(items) => {
            e.list(items.len());
            items.iter().for_each(|t| write(e, t));
        }
        Tree::Map(pairs) => {
            e.map(pairs.len());
            for (k, v) in pairs {
                write(e, k);
                write(e, v);
            }
        }
        Tree::Error(kind, message, tb) => {
            let tb: Vec<(&str, u32, &str)> = tb.iter().map(|(f, l, n)| (f.as_str(), *l, n.as_str())).collect();
            e.error(kind, message, &tb);
        }
    }
}

/// The whole frame, length prefix included.
pub fn frame(t: &Tree) -> Vec<u8> {
    let mut e = Encoder::new();
    write(&mut e, t);
    e.finish().to_vec()
}

/// The payload `decode` takes: the frame without its length prefix.
pub fn payload(t: &Tree) -> Vec<u8> {
    frame(t)[PREFIX_LEN..].to_vec()
}

/// A map key as toy compares them: by value within a type, never across types.
#[derive(PartialEq, Eq, Hash)]
enum Key<'t> {
    Nil,
    Bool(bool),
    Int(i64),
    Str(&'t str),
}

/// Whether every map in `t` has keys the format allows (nil, bool, int or str, no two equal):
/// what the decoder promises of every value it accepts. Iterative, so any depth is fine.
pub fn map_keys_are_valid(t: &Tree) -> bool {
    let mut todo = vec![t];
    while let Some(t) = todo.pop() {
        match t {
            Tree::List(items) => todo.extend(items),
            Tree::Map(pairs) => {
                let mut seen = HashSet::new();
                for (k, v) in pairs {
                    let key = match k {
                        Tree::Nil => Key::Nil,
                        Tree::Bool(b) => Key::Bool(*b),
                        Tree::Int(i) => Key::Int(*i),
                        Tree::Str(s) => Key::Str(s),
                        _ => return false,
                    };
                    if !seen.insert(key) {
                        return false;
                    }
                    todo.push(v);
                }
            }
            _ => {}
        }
    }
    true
}
