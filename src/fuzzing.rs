//! What the fuzz targets reach beyond the public API: the parser on its own and the wire
//! format's decoder. Hidden from the documentation; not for hosts.
//!
//! Invariant: only re-exports live here, so the fuzz targets exercise exactly the code
//! the interpreter runs.

pub use crate::error::Diagnostic;
pub use crate::parser::{is_incomplete, parse};

/// The wire format's decoder and frame reader, and the test-only value tree.
pub mod wire {
    #[cfg(fuzzing)]
    pub use crate::wire::tree::{Tree, TreeBuilder, map_keys_are_valid, payload};
    pub use crate::wire::{Decoder, Length, PieceDecoder, PieceReader, WireError, decode, decode_pair, read_frame};
}
