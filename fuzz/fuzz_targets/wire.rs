//! Fuzz target for the message format: any bytes are decoded as a payload (whole, and fed
//! in pieces as it would arrive, with its length known or not yet known) and read as a
//! stream of frames, whole or streamed, in pieces. None of it may panic, overflow the stack
//! or allocate beyond what the input justifies; whatever `decode` accepts must re-encode to
//! exactly the same bytes (the format has one encoding per value, so a decoder that accepted
//! anything else would be reading something the encoder never wrote), and its maps' keys must
//! be nil, bool, int or str, no two equal; and decoding in pieces must accept exactly what
//! decoding whole accepts, whether the pieces are prefixes of one buffer or separate
//! buffers (`PieceDecoder`, as between interpreters); and a payload read in place as a
//! `[kind, scalar]` pair (`decode_pair`) must be one `decode` reads as that list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use toy::fuzzing::wire::{
    self, Decoder, Length, PieceDecoder, PieceReader, Tree, TreeBuilder, WireError, map_keys_are_valid, payload,
};

/// The decoder's builder: a plain tree.
fn builder() -> TreeBuilder {
    TreeBuilder
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
        match d.feed(&data[..end], len, &mut builder())? {
            Some(t) => return Ok(t),
            None => assert!(end < data.len(), "the whole payload, and still waiting"),
        }
    }
}

/// `data` given to a `PieceDecoder` as separate buffers of `piece` bytes (as an
/// interpreter's mailbox hands them over), the length known only with the last one.
fn as_separate_pieces(data: &[u8], piece: usize) -> Result<Tree, WireError> {
    let mut d = PieceDecoder::new(Decoder::new(), Vec::new());
    let mut start = 0;
    loop {
        let end = (start + piece).min(data.len());
        let len = if end == data.len() {
            Length::Exactly(data.len())
        } else {
            Length::AtMost(data.len() + 64)
        };
        match d.piece(&data[start..end], len, &mut builder())? {
            Some(t) => return Ok(t),
            None => assert!(end < data.len(), "the whole payload, and still waiting"),
        }
        start = end;
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = wire::decode(data, &mut builder());
    if let Ok(tree) = &whole {
        assert_eq!(payload(tree), data, "decode accepted a non-canonical encoding");
        assert!(
            map_keys_are_valid(tree),
            "decode accepted a map whose keys break the rules"
        );
    }
    if let Some((kind, value)) = wire::decode_pair(data, &mut builder()) {
        assert_eq!(
            whole.as_ref().ok(),
            Some(&Tree::List(vec![Tree::Int(kind), value])),
            "a pair read in place that decode reads otherwise"
        );
    }
    let piece = 1 + data.first().map_or(0, |b| (b % 16) as usize);
    for known in [true, false] {
        let pieced = in_pieces(data, piece, known);
        match (&whole, &pieced) {
            (Ok(a), Ok(b)) => assert_eq!(payload(a), payload(b), "pieces decode differently"),
            (Err(a), Err(b)) if known => assert_eq!(a, b, "pieces fail differently"),
            (Err(_), Err(_)) => {}
            _ => panic!("whole and pieces disagree on whether the payload is good"),
        }
    }
    match (&whole, as_separate_pieces(data, piece)) {
        (Ok(a), Ok(b)) => assert_eq!(payload(a), payload(&b), "separate pieces decode differently"),
        (Err(_), Err(_)) => {}
        _ => panic!("whole and separate pieces disagree on whether the payload is good"),
    }
    let mut stream = std::io::Cursor::new(data);
    let mut buf = Vec::new();
    while let Ok(true) = wire::read_frame(&mut stream, &mut buf, 1 << 16) {
        let _ = wire::decode(&buf, &mut builder());
    }
    // The same stream read a piece at a time, decoding as the pieces come.
    let mut stream = std::io::Cursor::new(data);
    while let Ok(Some(mut pieces)) = PieceReader::start(&mut stream, &mut buf, 1 << 16) {
        let mut d = Decoder::new();
        loop {
            if pieces.next(&mut stream, &mut buf, piece).is_err() || pieces.abandoned() {
                break;
            }
            match d.feed(pieces.payload(&buf), pieces.length(), &mut builder()) {
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
