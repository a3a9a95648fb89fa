//! The wire format's tests: round trips of every type, the byte layout the module doc
//! documents, hostile payloads and frames of every kind (each refused with its precise
//! message), and property tests that decoding in pieces, streamed or not, agrees with
//! decoding the whole payload.

use super::format::*;
use super::keys::SeenKeys;
use super::tree::{Tree, TreeBuilder, frame, map_keys_are_valid, payload, write};
use super::*;
use proptest::prelude::*;
use std::io::{self, Cursor, Read};

/// Counts values without keeping them: decoding deep input with it measures the
/// decoder's own stack use, not a recursive drop of the result.
struct Count;

impl Builder for Count {
    type Value = usize;
    fn nil(&mut self) -> usize {
        1
    }
    fn bool(&mut self, _: bool) -> usize {
        1
    }
    fn int(&mut self, _: i64) -> usize {
        1
    }
    fn float(&mut self, _: f64) -> usize {
        1
    }
    fn str(&mut self, _: &str) -> usize {
        1
    }
    fn list(&mut self, items: Vec<usize>) -> usize {
        1 + items.iter().sum::<usize>()
    }
    fn map(&mut self, pairs: Vec<(usize, usize)>) -> Result<usize, WireError> {
        Ok(1 + pairs.iter().map(|(k, v)| k + v).sum::<usize>())
    }
    fn error(&mut self, _: &str, _: &str, _: Vec<(String, u32, String)>) -> usize {
        1
    }
}

/// The scalar half of a `Builder` whose values are `Tree`s: what `TreeBuilder` makes.
macro_rules! scalars_as_trees {
    () => {
        fn nil(&mut self) -> Tree {
            TreeBuilder.nil()
        }
        fn bool(&mut self, b: bool) -> Tree {
            TreeBuilder.bool(b)
        }
        fn int(&mut self, i: i64) -> Tree {
            TreeBuilder.int(i)
        }
        fn float(&mut self, f: f64) -> Tree {
            TreeBuilder.float(f)
        }
        fn str(&mut self, s: &str) -> Tree {
            TreeBuilder.str(s)
        }
    };
}

/// A `TreeBuilder` that refuses any map with the key `"refused"`, as a receiver may refuse
/// a map: decoding in pieces must pass such a refusal on exactly as decoding whole does.
struct Refusing;

impl Builder for Refusing {
    type Value = Tree;
    scalars_as_trees!();
    fn list(&mut self, items: Vec<Tree>) -> Tree {
        TreeBuilder.list(items)
    }
    fn map(&mut self, pairs: Vec<(Tree, Tree)>) -> Result<Tree, WireError> {
        if pairs.iter().any(|(k, _)| *k == s("refused")) {
            return Err(WireError("refused map key".into()));
        }
        TreeBuilder.map(pairs)
    }
    fn error(&mut self, kind: &str, message: &str, traceback: Vec<(String, u32, String)>) -> Tree {
        TreeBuilder.error(kind, message, traceback)
    }
}

fn decode_tree(bytes: &[u8]) -> Result<Tree, WireError> {
    decode(bytes, &mut TreeBuilder)
}

/// Where the pieces of a `len`-byte payload end, from arbitrary cut points: sorted, the
/// whole payload last.
fn piece_ends(len: usize, cuts: &[usize]) -> Vec<usize> {
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (len + 1)).collect();
    ends.sort_unstable();
    ends.push(len);
    ends
}

/// What one feed that reached byte `end` of `len` says: the answer, if it is one (a value
/// only once every byte is in, and never still waiting once they all are).
fn finished(fed: Result<Option<Tree>, WireError>, end: usize, len: usize) -> Option<Result<Tree, WireError>> {
    match fed {
        Ok(Some(t)) => {
            assert_eq!(end, len, "a value before all its bytes arrived");
            Some(Ok(t))
        }
        Ok(None) => {
            assert!(end < len, "the whole payload, and still waiting");
            None
        }
        Err(e) => Some(Err(e)),
    }
}

/// Decodes `bytes` fed to one `Decoder` in pieces ending at `cuts` (any order, any
/// values; the whole payload is always fed last).
fn decode_in_pieces(bytes: &[u8], cuts: &[usize]) -> Result<Tree, WireError> {
    let ends = piece_ends(bytes.len(), cuts);
    let mut d = Decoder::new();
    let mut b = Refusing;
    for end in ends {
        let fed = d.feed(&bytes[..end], Length::Exactly(bytes.len()), &mut b);
        if let Some(answer) = finished(fed, end, bytes.len()) {
            return answer;
        }
    }
    unreachable!("the last piece is the whole payload")
}

/// Like `decode_in_pieces`, but each piece is a separate buffer holding only its own bytes,
/// fed through a `PieceDecoder` (which keeps what the decoder may read again); `known`: the
/// length is given from the start, else only with the last piece.
fn decode_in_separate_pieces(bytes: &[u8], cuts: &[usize], known: bool) -> Result<Tree, WireError> {
    let ends = piece_ends(bytes.len(), cuts);
    let mut d = PieceDecoder::new(Decoder::new(), Vec::new());
    let mut b = Refusing;
    let mut start = 0;
    for end in ends {
        let len = if known || end == bytes.len() {
            Length::Exactly(bytes.len())
        } else {
            Length::AtMost(bytes.len() + 1000)
        };
        let piece = bytes[start..end].to_vec();
        start = end;
        if let Some(answer) = finished(d.piece(&piece, len, &mut b), end, bytes.len()) {
            return answer;
        }
    }
    unreachable!("the last piece is the whole payload")
}

/// Like `decode_in_pieces`, but as a streamed frame arrives: the length is only bounded
/// (by more than it is) until the last piece.
fn decode_streamed_in_pieces(bytes: &[u8], cuts: &[usize]) -> Result<Tree, WireError> {
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    ends.sort_unstable();
    let mut d = Decoder::new();
    let mut b = Refusing;
    for end in ends {
        match d.feed(&bytes[..end], Length::AtMost(bytes.len() + 1000), &mut b) {
            Ok(Some(t)) => panic!("a value ({t:?}) before the payload's end was known"),
            Ok(None) => {}
            Err(e) => return Err(e),
        }
    }
    match d.feed(bytes, Length::Exactly(bytes.len()), &mut b) {
        Ok(Some(t)) => Ok(t),
        Ok(None) => panic!("the whole payload, and still waiting"),
        Err(e) => Err(e),
    }
}

/// Writes through to an encoder, cutting the frame after every `every`-th value or header.
struct Cutting<'e> {
    e: &'e mut Encoder,
    every: usize,
    calls: usize,
}

impl Cutting<'_> {
    fn tick(&mut self) {
        self.calls += 1;
        if self.calls.is_multiple_of(self.every) {
            self.e.cut();
        }
    }
}

impl Pump for Cutting<'_> {
    fn encoder(&mut self) -> &mut Encoder {
        self.e
    }
    fn after_item(&mut self) {
        self.tick()
    }
}

/// `t` as a streamed frame cut after every `every`-th call (whole if it is never cut).
fn streamed(t: &Tree, every: usize) -> Vec<u8> {
    let mut e = Encoder::new();
    write(
        &mut Pumped(Cutting {
            e: &mut e,
            every,
            calls: 0,
        }),
        t,
    );
    let once = e.finish().to_vec();
    assert_eq!(e.finish(), &once[..], "finish twice adds nothing");
    once
}

/// Reads the payload of the first frame of `stream` in pieces of `piece` bytes, decoding
/// as it goes.
fn read_and_decode_in_pieces(stream: &[u8], piece: usize) -> Result<Tree, WireError> {
    let mut r = Cursor::new(stream);
    let mut buf = Vec::new();
    let mut pieces = PieceReader::start(&mut r, &mut buf, 1 << 20)?.expect("a frame");
    let mut d = Decoder::new();
    let mut b = TreeBuilder;
    loop {
        pieces.next(&mut r, &mut buf, piece)?;
        assert!(!pieces.abandoned());
        if let Some(t) = d.feed(pieces.payload(&buf), pieces.length(), &mut b)? {
            assert!(pieces.is_complete());
            return Ok(t);
        }
        assert!(!pieces.is_complete(), "the whole payload, and still waiting");
    }
}

fn s(x: &str) -> Tree {
    Tree::Str(x.to_owned())
}

fn err_msg(bytes: &[u8]) -> String {
    match decode_tree(bytes) {
        Ok(t) => panic!("decoded {t:?} from bad input {bytes:?}"),
        Err(e) => e.to_string(),
    }
}

/// One of everything, nested: the sample that truncation and mutation tests cut up.
fn rich() -> Tree {
    Tree::List(vec![
        Tree::Nil,
        Tree::Bool(true),
        Tree::Bool(false),
        Tree::Int(i64::MIN),
        Tree::Float(-0.0),
        s("héllo ☃ 𝄞"),
        Tree::Map(vec![
            (s("k"), Tree::List(vec![Tree::Int(1), Tree::Map(vec![])])),
            (Tree::Nil, s("")),
        ]),
        Tree::Error(
            "ZeroDivisionError".into(),
            "division by zero".into(),
            vec![
                ("demo.toy".into(), 9, "<main>".into()),
                ("demo.toy".into(), 3, "divide".into()),
            ],
        ),
        Tree::List(vec![]),
    ])
}

fn nested_lists(depth: usize) -> Vec<u8> {
    let mut bytes = vec![VERSION];
    for _ in 0..depth {
        bytes.push(TAG_LIST);
        bytes.extend_from_slice(&1u64.to_le_bytes());
    }
    bytes.push(TAG_NIL);
    bytes
}

#[test]
fn round_trips_every_type() {
    let floats = [
        0.0,
        -0.0,
        1.5,
        -2.25e300,
        f64::MIN_POSITIVE,
        5e-324,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    let mut values = vec![Tree::Nil, Tree::Bool(true), Tree::Bool(false)];
    values.extend([0, 1, -1, i64::MIN, i64::MAX].map(Tree::Int));
    values.extend(floats.map(Tree::Float));
    values.extend(["", "a", "héllo ☃ 𝄞", "nul\0inside", "\u{10ffff}"].map(s));
    values.push(Tree::List(vec![]));
    values.push(Tree::Map(vec![]));
    values.push(Tree::Error("Error".into(), "".into(), vec![]));
    values.push(rich());
    values.push(Tree::Map(vec![
        (Tree::Int(1), Tree::Int(2)),
        (Tree::Bool(true), Tree::Nil),
        (s("1"), Tree::Float(1.5)),
        (Tree::Nil, Tree::List(vec![])),
        (Tree::Bool(false), Tree::Map(vec![(Tree::Int(1), Tree::Nil)])),
        (Tree::Int(0), rich()),
        (s(""), Tree::Error("E".into(), "m".into(), vec![])),
    ]));
    values.push(Tree::List(values.clone()));
    for v in values {
        assert_eq!(decode_tree(&payload(&v)), Ok(v.clone()), "round trip of {v:?}");
    }
}

#[test]
fn byte_layout_is_as_documented() {
    let t = Tree::List(vec![
        Tree::Int(-2),
        s("é"),
        Tree::Map(vec![(Tree::Bool(true), Tree::Nil)]),
    ]);
    #[rustfmt::skip]
    let payload: Vec<u8> = [
        &[VERSION][..],
        &[0x06], &3u64.to_le_bytes(),
        &[0x03], &(-2i64).to_le_bytes(),
        &[0x05], &2u64.to_le_bytes(), "é".as_bytes(),
        &[0x07], &1u64.to_le_bytes(), &[0x02], &[0x00],
    ]
    .concat();
    let mut expected = (payload.len() as u64).to_le_bytes().to_vec();
    expected.extend_from_slice(&payload);
    assert_eq!(frame(&t), expected);

    let e = Tree::Error("E".into(), "m".into(), vec![("f".into(), 7, "g".into())]);
    #[rustfmt::skip]
    let payload: Vec<u8> = [
        &[VERSION][..],
        &[0x08], &1u64.to_le_bytes(), b"E", &1u64.to_le_bytes(), b"m",
        &1u64.to_le_bytes(), &1u64.to_le_bytes(), b"f", &7u32.to_le_bytes(), &1u64.to_le_bytes(), b"g",
    ]
    .concat();
    assert_eq!(&frame(&e)[PREFIX_LEN..], payload);
    assert_eq!(
        &frame(&Tree::Float(1.0))[PREFIX_LEN + 1..],
        [&[0x04][..], &1.0f64.to_bits().to_le_bytes()].concat()
    );
}

#[test]
fn encoder_is_reused_between_frames() {
    let mut e = Encoder::new();
    write(&mut e, &rich());
    let first = e.finish().to_vec();
    e.begin();
    e.int(7);
    let second = e.finish().to_vec();
    assert_eq!(second, frame(&Tree::Int(7)));
    e.begin();
    write(&mut e, &rich());
    assert_eq!(e.finish(), first);
}

#[test]
fn rejects_empty_and_wrong_version() {
    assert_eq!(
        err_msg(&[]),
        "bad message from the other process: empty message (no version byte)"
    );
    let mut bytes = payload(&Tree::Nil);
    bytes[0] = 2;
    assert_eq!(
        err_msg(&bytes),
        "bad message from the other process: unsupported version 2 at byte 0 (this toy reads version 1)"
    );
    assert!(err_msg(&[VERSION]).contains("truncated value tag at byte 1"));
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = payload(&rich());
    for cut in 0..bytes.len() {
        assert!(decode_tree(&bytes[..cut]).is_err(), "decoded a payload cut at {cut}");
        assert!(decode(&bytes[..cut], &mut Count).is_err());
    }
    // The same through the stream reader: a frame cut anywhere is an error, never a hang.
    let whole = frame(&rich());
    for cut in 1..whole.len() {
        let mut buf = Vec::new();
        let e = read_frame(&mut Cursor::new(&whole[..cut]), &mut buf, 1 << 20).unwrap_err();
        assert_eq!(e.0, "the other process closed the channel in the middle of a message");
    }
}

#[test]
fn truncation_messages_say_where() {
    let bytes = payload(&Tree::Int(5));
    assert_eq!(
        err_msg(&bytes[..5]),
        "bad message from the other process: truncated int at byte 2 (needs 8 bytes, 3 left)"
    );
}

#[test]
fn rejects_unknown_tags() {
    let mut bytes = payload(&Tree::List(vec![Tree::Int(1), Tree::Nil]));
    assert_eq!(bytes[19], TAG_NIL);
    bytes[19] = 0x7f;
    assert_eq!(
        err_msg(&bytes),
        "bad message from the other process: unknown tag 0x7f at byte 19"
    );
    for tag in 0x09..=0xff {
        assert!(err_msg(&[VERSION, tag]).contains(&format!("unknown tag {tag:#04x} at byte 1")));
    }
}

#[test]
fn rejects_lying_lengths() {
    let mut str_len = vec![VERSION, TAG_STR];
    str_len.extend_from_slice(&4u64.to_le_bytes());
    str_len.extend_from_slice(b"abc");
    assert_eq!(
        err_msg(&str_len),
        "bad message from the other process: string of 4 bytes at byte 2 does not fit in the rest of the \
         message (room for at most 3)"
    );
    for (tag, what) in [(TAG_STR, "string"), (TAG_LIST, "list"), (TAG_MAP, "map")] {
        for n in [u64::MAX, u64::MAX / 2 + 1, 1 << 40, 3] {
            let mut bytes = vec![VERSION, tag];
            bytes.extend_from_slice(&n.to_le_bytes());
            bytes.extend_from_slice(&[TAG_NIL, TAG_NIL]);
            assert!(err_msg(&bytes).contains(&format!("{what} of {n} ")), "{what} of {n}");
        }
    }
    // A map of 1 pair needs two values; one byte left is not enough.
    let mut map = vec![VERSION, TAG_MAP];
    map.extend_from_slice(&1u64.to_le_bytes());
    map.push(TAG_NIL);
    assert!(err_msg(&map).contains("map of 1 pairs at byte 2"));
    // A traceback whose count is more than the bytes could hold.
    let mut e = payload(&Tree::Error("E".into(), "m".into(), vec![]));
    let at = e.len() - 8;
    e[at..].copy_from_slice(&1u64.to_le_bytes());
    e.extend_from_slice(&[0; MIN_ENTRY - 1]);
    assert!(err_msg(&e).contains(&format!("traceback of 1 entries at byte {at}")));
}

#[test]
fn counts_are_checked_against_what_enclosing_lists_still_need() {
    // An outer list of 3 whose first item claims every byte left: each count alone fits,
    // together they cannot, and the decoder refuses before allocating for the inner one.
    let mut bytes = vec![VERSION, TAG_LIST];
    bytes.extend_from_slice(&3u64.to_le_bytes());
    bytes.push(TAG_LIST);
    bytes.extend_from_slice(&4u64.to_le_bytes());
    bytes.extend_from_slice(&[TAG_NIL; 4]);
    let msg = err_msg(&bytes);
    assert!(
        msg.contains("list of 4 items at byte 11") && msg.contains("room for at most 2"),
        "{msg}"
    );
    // One fewer inner item and it all fits.
    bytes[11..19].copy_from_slice(&2u64.to_le_bytes());
    assert_eq!(
        decode_tree(&bytes),
        Ok(Tree::List(vec![
            Tree::List(vec![Tree::Nil, Tree::Nil]),
            Tree::Nil,
            Tree::Nil
        ]))
    );
}

#[test]
fn rejects_invalid_utf8_everywhere_a_string_can_be() {
    let tree = Tree::List(vec![
        s("abcdef"),
        Tree::Error(
            "Kind".into(),
            "message".into(),
            vec![("file.toy".into(), 1, "function".into())],
        ),
    ]);
    let bytes = payload(&tree);
    for (word, what) in [
        ("bcd", "string"),
        ("Kind", "error kind"),
        ("message", "error message"),
        ("file", "traceback file"),
    ]
    .into_iter()
    .chain([("function", "traceback function")])
    {
        let at = bytes.windows(word.len()).position(|w| w == word.as_bytes()).unwrap();
        let mut bad = bytes.clone();
        bad[at] = 0xff;
        assert_eq!(
            err_msg(&bad),
            format!("bad message from the other process: invalid UTF-8 in {what} at byte {at}")
        );
    }
    // A surrogate encoded as UTF-8 is not UTF-8 either.
    let mut surrogate = vec![VERSION, TAG_STR];
    surrogate.extend_from_slice(&3u64.to_le_bytes());
    surrogate.extend_from_slice(&[0xed, 0xa0, 0x80]);
    assert!(err_msg(&surrogate).contains("invalid UTF-8 in string at byte 10"));
}

#[test]
fn rejects_trailing_bytes() {
    let mut bytes = payload(&Tree::Int(1));
    bytes.extend_from_slice(&[0, 0]);
    assert_eq!(
        err_msg(&bytes),
        "bad message from the other process: 2 trailing bytes after the value, at byte 10"
    );
    let mut two = payload(&rich());
    two.extend_from_slice(&payload(&rich())[1..]);
    assert!(err_msg(&two).contains("trailing bytes"));
}

#[test]
fn passes_on_the_builders_refusal() {
    let t = Tree::Map(vec![(s("refused"), Tree::Nil)]);
    assert_eq!(
        decode(&payload(&t), &mut Refusing),
        Err(WireError("refused map key".into()))
    );
    let inner = Tree::List(vec![Tree::Map(vec![(
        Tree::Int(1),
        Tree::Map(vec![(s("refused"), Tree::Nil)]),
    )])]);
    assert_eq!(
        decode(&payload(&inner), &mut Refusing),
        Err(WireError("refused map key".into()))
    );
    assert!(decode_tree(&payload(&inner)).is_ok());
}

/// The payload of a map written pair by pair as given, whatever the keys: what a forger, or
/// a broken sender, could put on the wire.
fn forged_map(pairs: &[(Tree, Tree)]) -> Vec<u8> {
    payload(&Tree::Map(pairs.to_vec()))
}

/// Where the `i`-th key of a map payload made by `forged_map` starts, each value being one
/// byte (nil).
fn key_at(pairs: &[(Tree, Tree)], i: usize) -> usize {
    1 + 9
        + pairs[..i]
            .iter()
            .map(|(k, v)| payload(k).len() - 1 + payload(v).len() - 1)
            .sum::<usize>()
}

#[test]
fn map_keys_of_other_types_are_refused_where_they_are() {
    for (key, what) in [
        (Tree::Float(1.0), "a float"),
        (Tree::Float(f64::NAN), "a float"),
        (Tree::List(vec![]), "a list"),
        (Tree::List(vec![Tree::Int(1)]), "a list"),
        (Tree::Map(vec![]), "a map"),
        (Tree::Map(vec![(Tree::Int(1), Tree::Nil)]), "a map"),
        (Tree::Error("E".into(), "m".into(), vec![]), "an error"),
    ] {
        let pairs = [(s("ok"), Tree::Nil), (key, Tree::Nil)];
        let at = key_at(&pairs, 1);
        assert_eq!(
            err_msg(&forged_map(&pairs)),
            format!(
                "bad message from the other process: map key at byte {at} is {what} (a map key is nil, a bool, \
                 an int or a str)"
            )
        );
        // In a value's place, the same value is fine.
        let (key, _) = pairs[1].clone();
        let value = Tree::Map(vec![(Tree::Int(1), key.clone())]);
        assert_eq!(decode_tree(&payload(&value)), Ok(value));
        assert_eq!(
            decode_tree(&payload(&Tree::List(vec![key.clone()]))),
            Ok(Tree::List(vec![key]))
        );
    }
    // A bad key is refused from its tag: its body need not be whole (a map of one pair needs
    // at least 2 bytes after its count, so the count still fits), nor have arrived yet.
    let bytes = forged_map(&[(Tree::Float(2.0), Tree::Nil)]);
    let refused = "bad message from the other process: map key at byte 10 is a float (a map key is nil, a bool, an int \
                   or a str)";
    assert_eq!(err_msg(&bytes[..12]), refused);
    assert_eq!(decode_in_pieces(&bytes[..12], &[11]), Err(WireError(refused.into())));
    let mut d = Decoder::new();
    assert_eq!(
        d.feed(&bytes[..11], Length::AtMost(1000), &mut TreeBuilder),
        Err(WireError(refused.into()))
    );
    // An unknown tag where a key should be is an unknown tag.
    let mut unknown = forged_map(&[(Tree::Nil, Tree::Nil)]);
    unknown[10] = 0x09;
    assert!(err_msg(&unknown).contains("unknown tag 0x09 at byte 10"));
}

#[test]
fn a_repeated_map_key_is_refused_with_both_offsets() {
    let n = |v| (v, Tree::Nil);
    for keys in [
        vec![Tree::Int(1), Tree::Int(1)],
        vec![Tree::Nil, Tree::Nil],
        vec![Tree::Bool(true), Tree::Bool(true)],
        vec![Tree::Bool(false), Tree::Int(0), Tree::Bool(false)],
        vec![s("a"), s("b"), s("a")],
        vec![s(""), s("a"), s("")],
        vec![s("héllo"), Tree::Int(7), s("héllo")],
        vec![
            Tree::Int(i64::MIN),
            Tree::Int(i64::MAX),
            Tree::Int(-1),
            Tree::Int(i64::MIN),
        ],
    ] {
        let pairs: Vec<_> = keys.into_iter().map(n).collect();
        let last = pairs.len() - 1;
        let first = pairs.iter().position(|p| *p == pairs[last]).unwrap();
        let bytes = forged_map(&pairs);
        let expected = format!(
            "bad message from the other process: map key at byte {} repeats the key at byte {}",
            key_at(&pairs, last),
            key_at(&pairs, first)
        );
        assert_eq!(err_msg(&bytes), expected, "{pairs:?}");
        // In pieces, known length or not, the same refusal.
        let every: Vec<usize> = (0..=bytes.len()).collect();
        assert_eq!(decode_in_pieces(&bytes, &every), Err(WireError(expected.clone())));
        assert!(decode_streamed_in_pieces(&bytes, &every).is_err());
        // The value repeated is not the key: a map may hold one value under many keys.
        assert!(decode_tree(&forged_map(&[(Tree::Int(1), s("v")), (Tree::Int(2), s("v"))])).is_ok());
    }
}

#[test]
fn keys_equal_only_within_a_type() {
    // Toy's map keys: `true` and `1`, `false`, `0`, nil and "" are all different, as are 1
    // and "1"; each map may hold all of them at once.
    let keys = [
        Tree::Bool(true),
        Tree::Int(1),
        s("1"),
        s("true"),
        Tree::Bool(false),
        Tree::Int(0),
        Tree::Nil,
        s(""),
        s("0"),
        s("nil"),
        Tree::Int(-1),
        Tree::Int(256),
    ];
    let t = Tree::Map(keys.iter().cloned().map(|k| (k, Tree::Nil)).collect());
    assert_eq!(decode_tree(&payload(&t)), Ok(t));
}

#[test]
fn keys_are_counted_per_map() {
    // An inner map may use its outer map's keys, and closing it forgets its own keys.
    let inner = |k: Tree| Tree::Map(vec![(k.clone(), Tree::Nil), (s("x"), Tree::Nil)]);
    let t = Tree::Map(vec![
        (s("x"), inner(s("y"))),
        (s("y"), Tree::List(vec![inner(s("z")), inner(s("y"))])),
        (s("z"), inner(s("w"))),
    ]);
    assert_eq!(decode_tree(&payload(&t)), Ok(t));
    // A repeat inside the inner map, after and before the outer map's keys.
    let bad_inner = Tree::Map(vec![
        (s("a"), Tree::Map(vec![(s("b"), Tree::Nil), (s("b"), Tree::Nil)])),
        (s("b"), Tree::Nil),
    ]);
    assert!(err_msg(&payload(&bad_inner)).ends_with("map key at byte 40 repeats the key at byte 29"));
    let bad_outer = Tree::Map(vec![
        (s("a"), Tree::Map(vec![(s("b"), Tree::Nil)])),
        (s("a"), Tree::Nil),
    ]);
    assert!(err_msg(&payload(&bad_outer)).ends_with("map key at byte 40 repeats the key at byte 10"));
}

#[test]
fn a_repeated_key_in_a_big_map_is_found() {
    // Past the few keys compared one by one, through the hash index: each key repeated once,
    // wherever the repeat is.
    let keys: Vec<Tree> = (0..300)
        .map(|i| if i % 2 == 0 { Tree::Int(i) } else { s(&format!("k{i}")) })
        .collect();
    let distinct: Vec<(Tree, Tree)> = keys.iter().cloned().map(|k| (k, Tree::Nil)).collect();
    assert_eq!(decode_tree(&forged_map(&distinct)), Ok(Tree::Map(distinct.clone())));
    for (repeat, of) in [(8, 0), (9, 3), (299, 298), (150, 7), (299, 0)] {
        let mut pairs = distinct.clone();
        pairs[repeat] = pairs[of].clone();
        let bytes = forged_map(&pairs);
        let expected = format!(
            "bad message from the other process: map key at byte {} repeats the key at byte {}",
            key_at(&pairs, repeat),
            key_at(&pairs, of)
        );
        assert_eq!(err_msg(&bytes), expected);
        assert_eq!(decode_in_pieces(&bytes, &[100, 1000, 2000]), Err(WireError(expected)));
    }
}

/// Hashes everything to the same number: every key collides, as no sender can make them
/// collide under the decoder's random keyed hash, to check that a collision is told apart
/// from a repeat.
#[derive(Clone, Default)]
struct Constant;

impl std::hash::BuildHasher for Constant {
    type Hasher = Constant;
    fn build_hasher(&self) -> Constant {
        Constant
    }
}

impl std::hash::Hasher for Constant {
    fn finish(&self) -> u64 {
        7
    }
    fn write(&mut self, _: &[u8]) {}
}

#[test]
fn colliding_hashes_are_not_taken_for_repeats() {
    // Small maps compare their keys pair by pair, big ones (by comparison and by radix) sort
    // their hashes: with every hash the same, each must still tell keys apart by their bytes.
    for n in [3, 40, 2000] {
        let pairs: Vec<(Tree, Tree)> = (0..n).map(|i| (Tree::Int(i), Tree::Nil)).collect();
        let bytes = forged_map(&pairs);
        let starts: Vec<usize> = (0..pairs.len()).map(|i| key_at(&pairs, i)).collect();
        let mut seen = SeenKeys::with_hasher(Constant);
        seen.open(n as usize);
        starts.iter().for_each(|&at| seen.insert(&bytes, at));
        assert_eq!(seen.close(&bytes), Ok(()), "{n} keys");
        // The same keys, the last one repeating the middle one, inside an outer map.
        let mut seen = SeenKeys::with_hasher(Constant);
        seen.open(2);
        seen.insert(&bytes, starts[0]);
        seen.open(n as usize + 1);
        starts.iter().for_each(|&at| seen.insert(&bytes, at));
        let middle = starts[starts.len() / 2];
        seen.insert(&bytes, middle);
        assert_eq!(seen.close(&bytes), Err((middle, middle)), "{n} keys");
        // The inner map's keys went with it; the outer map has one key so far.
        seen.insert(&bytes, starts[1]);
        assert_eq!(seen.close(&bytes), Ok(()));
    }
}

#[test]
fn repeats_are_found_when_the_map_closes() {
    // The first key that repeats an earlier one is named, whichever repeats come later.
    let pairs: Vec<(Tree, Tree)> = [1, 2, 3, 2, 1, 3, 3]
        .into_iter()
        .map(|i| (Tree::Int(i), Tree::Nil))
        .collect();
    assert!(err_msg(&forged_map(&pairs)).ends_with(&format!(
        "map key at byte {} repeats the key at byte {}",
        key_at(&pairs, 3),
        key_at(&pairs, 1)
    )));
    // A fault later in the same map is met first: a repeat is known only once the map closes.
    let pairs = [(s("a"), Tree::Nil), (s("a"), Tree::Nil), (Tree::Float(1.0), Tree::Nil)];
    assert!(err_msg(&forged_map(&pairs)).contains(&format!("map key at byte {} is a float", key_at(&pairs, 2))));
    let mut cut = forged_map(&pairs[..2]);
    cut.pop();
    assert!(err_msg(&cut).contains("truncated"));
}

#[test]
fn depth_limit_is_exact() {
    assert_eq!(decode(&nested_lists(MAX_DEPTH), &mut Count), Ok(MAX_DEPTH + 1));
    let msg = decode(&nested_lists(MAX_DEPTH + 1), &mut Count).unwrap_err().0;
    assert_eq!(
        msg,
        format!(
            "bad message from the other process: list at byte {} is nested more than {MAX_DEPTH} deep",
            1 + 9 * MAX_DEPTH
        )
    );
    // Maps count as well: a key that is a map inside a map's value.
    let mut bytes = vec![VERSION];
    for _ in 0..=MAX_DEPTH {
        bytes.push(TAG_MAP);
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.push(TAG_NIL);
    }
    bytes.extend(std::iter::repeat_n(TAG_NIL, MAX_DEPTH + 1));
    assert!(decode(&bytes, &mut Count).unwrap_err().0.contains("map at byte"));
    // Deep but within the limit, through the tree builder (whose drop recurses).
    let mut t = Tree::Nil;
    for _ in 0..MAX_DEPTH {
        t = Tree::List(vec![t]);
    }
    assert_eq!(decode_tree(&payload(&t)), Ok(t));
}

#[test]
fn deep_input_does_not_overflow_a_small_stack() {
    let deep = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| {
            let ok = decode(&nested_lists(MAX_DEPTH), &mut Count);
            let million = decode(&nested_lists(1_000_000), &mut Count);
            let truncated = decode(&nested_lists(1_000_000)[..5_000_000], &mut Count);
            (ok, million.is_err(), truncated.is_err())
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(deep, (Ok(MAX_DEPTH + 1), true, true));
}

/// Runs of strings: short and long, ASCII and not, empty, between other leaves.
fn strings() -> Tree {
    let mut items: Vec<Tree> = (0..150).map(|i| s(&format!("s{i}"))).collect();
    items.insert(3, s(""));
    items.insert(7, s("héllo"));
    items.insert(70, s(&"x".repeat(300)));
    items.insert(71, s("𝄞"));
    items.insert(100, Tree::Int(7));
    items.push(s("last"));
    Tree::List(items)
}

#[test]
fn runs_of_strings_round_trip_and_report_the_first_bad_byte() {
    let t = strings();
    let bytes = payload(&t);
    assert_eq!(decode_tree(&bytes), Ok(t));
    // A bad byte in any string is reported where it is, whichever string of a run it is in.
    for word in ["s1\u{5}", "s64", "s65", "héllo", "xxxx", "s149", "last"] {
        let at = bytes.windows(word.len()).position(|w| w == word.as_bytes()).unwrap() + 1;
        let mut bad = bytes.clone();
        bad[at] = 0xff;
        assert_eq!(
            err_msg(&bad),
            format!("bad message from the other process: invalid UTF-8 in string at byte {at}")
        );
    }
    // A run cut short by the end of the message: the truncated string is reported.
    for cut in [bytes.len() - 1, bytes.len() - 5, 40, 14] {
        let m = err_msg(&bytes[..cut]);
        assert!(
            m.contains("truncated") || m.contains("does not fit"),
            "cut at {cut}: {m}"
        );
    }
    // What a builder is told about ASCII matches the text.
    struct Ascii(Vec<(String, bool)>);
    impl Builder for Ascii {
        type Value = ();
        fn nil(&mut self) {}
        fn bool(&mut self, _: bool) {}
        fn int(&mut self, _: i64) {}
        fn float(&mut self, _: f64) {}
        fn str(&mut self, s: &str) {
            self.0.push((s.to_owned(), false));
        }
        fn ascii_str(&mut self, s: &str) {
            self.0.push((s.to_owned(), true));
        }
        fn list(&mut self, _: Vec<()>) {}
        fn map(&mut self, _: Vec<((), ())>) -> Result<(), WireError> {
            Ok(())
        }
        fn error(&mut self, _: &str, _: &str, _: Vec<(String, u32, String)>) {}
    }
    let mut seen = Ascii(Vec::new());
    decode(&bytes, &mut seen).unwrap();
    assert_eq!(seen.0.len(), 155);
    for (text, ascii) in seen.0 {
        assert!(!ascii || text.is_ascii(), "{text:?} called ASCII");
    }
}

#[test]
fn pieces_decode_like_the_whole() {
    let whole = |bytes: &[u8]| decode(bytes, &mut Refusing);
    let mut samples = vec![payload(&rich()), payload(&strings()), nested_lists(50)];
    samples.push(payload(&Tree::List((0..3000).map(Tree::Int).collect())));
    samples.push(payload(&Tree::Map(vec![(s("refused"), Tree::Nil)])));
    samples.push(forged_map(&[(Tree::Float(1.0), Tree::Nil)]));
    samples.push(forged_map(&[
        (s("k"), Tree::Nil),
        (Tree::List(vec![Tree::Nil]), Tree::Nil),
    ]));
    let many: Vec<(Tree, Tree)> = (0..40).map(|i| (Tree::Int(i % 23), s("v"))).collect();
    samples.push(forged_map(&many));
    samples.push(forged_map(&[
        (s("k"), Tree::Map(vec![(s("k"), Tree::Nil)])),
        (s("k"), Tree::Nil),
    ]));
    samples.extend(spoiled_payloads());
    for bytes in &samples {
        let expected = whole(bytes);
        // Every single cut, byte by byte, and a few uneven splits.
        for cut in 0..=bytes.len() {
            assert_eq!(decode_in_pieces(bytes, &[cut]), expected, "cut at {cut}");
        }
        let every: Vec<usize> = (0..=bytes.len()).collect();
        assert_eq!(decode_in_pieces(bytes, &every), expected);
        assert_eq!(decode_in_pieces(bytes, &[7, 300, 301, 2000]), expected);
    }
}

/// Two payloads a decoder must refuse late: a string with a bad UTF-8 byte near the end,
/// and a good payload with a byte after it.
fn spoiled_payloads() -> [Vec<u8>; 2] {
    let mut bad_utf8 = payload(&strings());
    let at = bad_utf8.len() - 3;
    bad_utf8[at] = 0xff;
    let mut trailing = payload(&rich());
    trailing.push(0);
    [bad_utf8, trailing]
}

#[test]
fn separate_pieces_decode_like_the_whole() {
    let whole = |bytes: &[u8]| decode(bytes, &mut Refusing);
    let mut samples = vec![payload(&rich()), payload(&strings()), nested_lists(50)];
    samples.push(payload(&Tree::List((0..3000).map(Tree::Int).collect())));
    let many: Vec<(Tree, Tree)> = (0..40).map(|i| (Tree::Int(i % 23), s("v"))).collect();
    samples.push(forged_map(&many));
    samples.push(forged_map(&[
        (s("k"), Tree::Map(vec![(s("k"), Tree::Nil)])),
        (s("k"), Tree::Nil),
    ]));
    samples.push(payload(&Tree::List(vec![
        Tree::Map(vec![
            (s("a"), Tree::Int(1)),
            (Tree::Int(2), Tree::List(vec![s("b"); 30])),
        ]),
        Tree::List((0..200).map(Tree::Int).collect()),
        Tree::Map(vec![(s("a"), Tree::Nil), (s("b"), Tree::Nil), (s("a"), Tree::Nil)]),
    ])));
    samples.extend(spoiled_payloads());
    for bytes in &samples {
        let expected = whole(bytes);
        for known in [true, false] {
            for cut in 0..=bytes.len() {
                let got = decode_in_separate_pieces(bytes, &[cut], known);
                if known {
                    assert_eq!(got, expected, "cut at {cut}");
                } else {
                    assert_eq!(got.is_ok(), expected.is_ok(), "cut at {cut}");
                    if let Ok(t) = got {
                        assert_eq!(Ok(t), expected);
                    }
                }
            }
            let every: Vec<usize> = (0..=bytes.len()).collect();
            assert_eq!(decode_in_separate_pieces(bytes, &every, true), expected);
            let uneven = [7, 300, 301, 2000, 2001, 2002, 4000];
            assert_eq!(decode_in_separate_pieces(bytes, &uneven, true), expected);
        }
    }
}

#[test]
fn a_decoder_refuses_a_window_that_starts_after_what_it_needs() {
    let bytes = payload(&Tree::List((0..10).map(Tree::Int).collect()));
    let mut d = Decoder::new();
    assert_eq!(
        d.feed(&bytes[..20], Length::Exactly(bytes.len()), &mut Refusing),
        Ok(None)
    );
    let from = d.needed_from();
    assert!(from > 0 && from <= 20);
    // Handing it the bytes from past where it stands is refused, not misread.
    assert!(
        d.feed_from(
            &bytes[from + 1..],
            from + 1,
            Length::Exactly(bytes.len()),
            &mut Refusing
        )
        .is_err()
    );
    let mut d = Decoder::new();
    d.feed(&bytes[..20], Length::Exactly(bytes.len()), &mut Refusing)
        .unwrap();
    assert_eq!(
        d.feed_from(&bytes[from..], from, Length::Exactly(bytes.len()), &mut Refusing),
        decode(&bytes, &mut Refusing).map(Some)
    );
}

#[test]
fn a_long_item_in_many_pieces_is_reread_only_a_few_times() {
    // A 1 MiB string and a 20,000-entry traceback arriving 64 bytes at a time: each is
    // parsed again only when the bytes past its start have doubled.
    struct Reads(usize, usize);
    impl Builder for Reads {
        type Value = ();
        fn nil(&mut self) {}
        fn bool(&mut self, _: bool) {}
        fn int(&mut self, _: i64) {}
        fn float(&mut self, _: f64) {}
        fn str(&mut self, s: &str) {
            self.0 += s.len();
        }
        fn list(&mut self, _: Vec<()>) {}
        fn map(&mut self, _: Vec<((), ())>) -> Result<(), WireError> {
            Ok(())
        }
        fn error(&mut self, _: &str, _: &str, tb: Vec<(String, u32, String)>) {
            self.1 += tb.len();
        }
    }
    let tb: Vec<(String, u32, String)> = (0..20_000).map(|i| ("f.toy".into(), i, "g".into())).collect();
    let t = Tree::List(vec![s(&"x".repeat(1 << 20)), Tree::Error("E".into(), "m".into(), tb)]);
    let bytes = payload(&t);
    let mut d = Decoder::new();
    let mut seen = Reads(0, 0);
    let mut feeds_that_ran = 0;
    for end in (64..bytes.len()).step_by(64).chain([bytes.len()]) {
        let before = d.progress();
        let out = d.feed(&bytes[..end], Length::Exactly(bytes.len()), &mut seen).unwrap();
        if d.progress() != before || out.is_some() {
            feeds_that_ran += 1;
        }
    }
    assert_eq!((seen.0, seen.1), (1 << 20, 20_000));
    assert!(feeds_that_ran < 60, "{feeds_that_ran} feeds did work");
}

#[test]
fn streamed_frames_carry_the_same_payload() {
    for t in [
        rich(),
        strings(),
        Tree::List((0..3000).map(Tree::Int).collect()),
        Tree::Nil,
    ] {
        let whole = frame(&t);
        for every in [1, 2, 7, 100, 1_000_000] {
            let f = streamed(&t, every);
            // Streamed once cut; never cut, a whole frame, exactly as before.
            let prefix = u64::from_le_bytes(f[..PREFIX_LEN].try_into().unwrap());
            assert!(prefix == STREAMED || f == whole);
            assert_eq!(prefix == STREAMED, every == 1 || (every < 1_000_000 && f != whole));
            if every == 1_000_000 {
                assert_eq!(f, whole);
            }
            let mut buf = Vec::new();
            let mut r = Cursor::new(&f);
            assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(true));
            assert_eq!(buf, whole[PREFIX_LEN..]);
            assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(false));
            for piece in [1, 3, 64, 1 << 20] {
                assert_eq!(read_and_decode_in_pieces(&f, piece), Ok(t.clone()));
            }
        }
    }
}

#[test]
fn an_abandoned_frame_is_skipped() {
    // Nothing cut yet: nothing was sent, and abandoning sends nothing.
    let mut e = Encoder::new();
    e.list(2);
    e.int(1);
    assert!(e.abandon(0).is_empty());
    // Cut, part sent: the rest of what was cut and the abandon mark go out.
    let mut e = Encoder::new();
    e.list(3);
    e.int(1);
    let ready = e.cut();
    e.int(2);
    e.cut();
    e.str("never sent");
    let mut stream = e.bytes()[..3].to_vec();
    stream.extend_from_slice(e.abandon(3));
    assert!(stream.len() > ready);
    assert_eq!(&stream[stream.len() - PREFIX_LEN..], ABANDONED.to_le_bytes());
    stream.extend_from_slice(&frame(&Tree::Int(42)));
    let mut buf = Vec::new();
    let mut r = Cursor::new(&stream);
    assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(true));
    assert_eq!(decode_tree(&buf), Ok(Tree::Int(42)));
    // Read in pieces, the abandoned frame says so.
    let mut r = Cursor::new(&stream);
    let mut pieces = PieceReader::start(&mut r, &mut buf, 1 << 20).unwrap().unwrap();
    while !pieces.is_complete() {
        pieces.next(&mut r, &mut buf, 4).unwrap();
    }
    assert!(pieces.abandoned());
    assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(true));
    assert_eq!(decode_tree(&buf), Ok(Tree::Int(42)));
}

#[test]
fn hostile_streamed_frames() {
    let seg = |bytes: &[u8]| {
        let mut out = (bytes.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(bytes);
        out
    };
    let read = |stream: Vec<u8>, max: usize| {
        let mut buf = Vec::new();
        read_frame(&mut Cursor::new(stream), &mut buf, max).map(|more| (more, buf))
    };
    let head = STREAMED.to_le_bytes().to_vec();
    // Segments over the cap, alone or together, are refused before they are allocated.
    let mut over = head.clone();
    over.extend_from_slice(&u64::MAX.wrapping_sub(1).to_le_bytes());
    assert!(read(over, 1 << 20).unwrap_err().0.contains("too long"));
    let mut two = head.clone();
    two.extend(seg(&[VERSION; 6]));
    two.extend(seg(&[TAG_NIL; 6]));
    two.extend_from_slice(&0u64.to_le_bytes());
    assert_eq!(
        read(two.clone(), 11),
        Err(WireError(
            "message from the other process is too long: 12 bytes, over the limit of 11".into()
        ))
    );
    assert_eq!(read(two, 12).map(|(_, b)| b.len()), Ok(12));
    // Ended at once: an empty payload, which is not a message.
    let mut empty = head.clone();
    empty.extend_from_slice(&0u64.to_le_bytes());
    let (_, buf) = read(empty, 100).unwrap();
    assert!(decode_tree(&buf).unwrap_err().0.contains("empty message"));
    // Cut off inside a segment, or before the end mark.
    let closed = Err(WireError(
        "the other process closed the channel in the middle of a message".into(),
    ));
    let mut short = head.clone();
    short.extend_from_slice(&5u64.to_le_bytes());
    short.extend_from_slice(&[VERSION, TAG_NIL]);
    assert_eq!(read(short, 100), closed);
    let mut unended = head.clone();
    unended.extend(seg(&[VERSION, TAG_NIL]));
    assert_eq!(read(unended.clone(), 100), closed);
    unended.extend_from_slice(&[0, 0, 0]);
    assert_eq!(read(unended, 100), closed);
    // One-byte segments are fine, and a value split anywhere means what it means whole.
    let mut bytes = head.clone();
    for b in payload(&rich()) {
        bytes.extend(seg(&[b]));
    }
    bytes.extend_from_slice(&0u64.to_le_bytes());
    let (_, buf) = read(bytes.clone(), 1 << 20).unwrap();
    assert_eq!(decode_tree(&buf), Ok(rich()));
    assert_eq!(read_and_decode_in_pieces(&bytes, 5), Ok(rich()));
}

#[test]
fn every_single_byte_change_is_handled() {
    // Whatever a corrupted byte turns the message into, decode answers without panicking,
    // and anything it accepts is the canonical encoding of what it returned.
    for bytes in [payload(&rich()), payload(&strings())] {
        for at in 0..bytes.len() {
            for x in [0x00, 0x01, 0x05, 0x06, 0x07, 0x08, 0x7f, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[at] ^= x;
                if let Ok(t) = decode_tree(&b) {
                    assert_eq!(payload(&t), b);
                }
            }
        }
    }
}

#[test]
fn read_frame_reads_frames_back_to_back() {
    let mut stream = frame(&rich());
    stream.extend_from_slice(&frame(&Tree::Int(42)));
    let mut r = Cursor::new(stream);
    let mut buf = Vec::new();
    assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(true));
    assert_eq!(decode_tree(&buf), Ok(rich()));
    assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(true));
    assert_eq!(decode_tree(&buf), Ok(Tree::Int(42)));
    assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(false));
    assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(false));
}

#[test]
fn read_frame_end_of_stream() {
    let mut buf = vec![1, 2, 3];
    assert_eq!(read_frame(&mut Cursor::new(Vec::new()), &mut buf, 100), Ok(false));
    let closed = WireError("the other process closed the channel in the middle of a message".into());
    assert_eq!(
        read_frame(&mut Cursor::new(vec![5, 0, 0]), &mut buf, 100),
        Err(closed.clone())
    );
    let mut short = 5u64.to_le_bytes().to_vec();
    short.extend_from_slice(&[VERSION, TAG_NIL]);
    assert_eq!(read_frame(&mut Cursor::new(short), &mut buf, 100), Err(closed));
    // An empty frame is read; decoding it is what fails.
    assert_eq!(
        read_frame(&mut Cursor::new(0u64.to_le_bytes()), &mut buf, 100),
        Ok(true)
    );
    assert!(buf.is_empty() && decode_tree(&buf).is_err());
}

#[test]
fn read_frame_refuses_oversize_frames() {
    let mut buf = Vec::new();
    let f = frame(&s("0123456789"));
    let len = f.len() - PREFIX_LEN;
    assert_eq!(read_frame(&mut Cursor::new(&f), &mut buf, len), Ok(true));
    assert_eq!(
        read_frame(&mut Cursor::new(&f), &mut buf, len - 1),
        Err(WireError(format!(
            "message from the other process is too long: {len} bytes, over the limit of {}",
            len - 1
        )))
    );
    // A hostile length is refused before anything is allocated for it.
    let mut buf = Vec::new();
    assert!(read_frame(&mut Cursor::new(u64::MAX.to_le_bytes()), &mut buf, usize::MAX).is_err());
    assert!(read_frame(&mut Cursor::new(u64::MAX.to_le_bytes()), &mut buf, 1 << 30).is_err());
    assert_eq!(buf.capacity(), 0);
}

/// Hands out at most `chunk` bytes per read, interrupts every other call, and records
/// where each read wrote, to show the payload goes straight into the caller's buffer.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
    interrupt: bool,
    writes: Vec<(usize, usize)>,
    fail_at: Option<usize>,
}

impl Read for Trickle {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(io::ErrorKind::Interrupted.into());
        }
        if self.fail_at.is_some_and(|at| self.pos >= at) {
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "connection reset"));
        }
        let n = out.len().min(self.chunk).min(self.data.len() - self.pos);
        out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        self.writes.push((out.as_ptr() as usize, n));
        Ok(n)
    }
}

#[test]
fn read_frame_survives_short_and_interrupted_reads_without_copying() {
    let f = frame(&Tree::List((0..5000).map(Tree::Int).collect()));
    let mut r = Trickle {
        data: f.clone(),
        pos: 0,
        chunk: 3,
        interrupt: false,
        writes: vec![],
        fail_at: None,
    };
    let mut buf = Vec::new();
    assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(true));
    assert_eq!(buf, f[PREFIX_LEN..]);
    // Every payload read landed inside the final buffer: it was never reallocated (and so
    // never copied) while the frame came in.
    let (start, end) = (buf.as_ptr() as usize, buf.as_ptr() as usize + buf.len());
    let payload_writes = r
        .writes
        .iter()
        .filter(|(p, n)| *n > 0 && !(*p >= start && p + n <= end));
    assert!(
        payload_writes.count() <= 3,
        "only the length prefix may be read elsewhere"
    );
    // A smaller frame reuses the allocation.
    let ptr = buf.as_ptr();
    let small = frame(&Tree::Int(1));
    let mut r = Trickle {
        data: small,
        pos: 0,
        chunk: 1,
        interrupt: false,
        writes: vec![],
        fail_at: None,
    };
    assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(true));
    assert_eq!(buf.as_ptr(), ptr);
    assert_eq!(decode_tree(&buf), Ok(Tree::Int(1)));
    // I/O errors other than interruptions are reported, in the prefix or the payload.
    for at in [4, 20] {
        let mut r = Trickle {
            data: f.clone(),
            pos: 0,
            chunk: 4,
            interrupt: false,
            writes: vec![],
            fail_at: Some(at),
        };
        assert_eq!(
            read_frame(&mut r, &mut buf, 1 << 20),
            Err(WireError(
                "could not read a message from the other process: connection reset".into()
            ))
        );
    }
}

#[test]
fn streams_a_large_message_over_a_socket() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    // 256 MiB of string and a few hundred thousand small values in one frame.
    let big = "toy ".repeat(64 << 20);
    let (mut tx, mut rx) = UnixStream::pair().unwrap();
    let sent = big.clone();
    let writer = std::thread::spawn(move || {
        let mut e = Encoder::new();
        e.list(2);
        e.str(&sent);
        e.list(300_000);
        (0..300_000).for_each(|i| e.int(i));
        tx.write_all(e.finish()).unwrap();
    });
    let mut buf = Vec::new();
    assert_eq!(read_frame(&mut rx, &mut buf, 1 << 30), Ok(true));
    writer.join().unwrap();
    let Ok(Tree::List(items)) = decode_tree(&buf) else {
        panic!("not a list")
    };
    assert!(matches!(&items[0], Tree::Str(got) if *got == big));
    assert_eq!(items[1], Tree::List((0..300_000).map(Tree::Int).collect()));
    assert_eq!(read_frame(&mut rx, &mut buf, 1 << 30), Ok(false));
}

fn tree() -> impl Strategy<Value = Tree> {
    let text = || prop::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter);
    let leaf = prop_oneof![
        Just(Tree::Nil),
        any::<bool>().prop_map(Tree::Bool),
        prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), Just(0), Just(-1)].prop_map(Tree::Int),
        prop_oneof![any::<f64>(), Just(-0.0), Just(0.0), Just(f64::INFINITY), Just(f64::NAN)].prop_map(Tree::Float),
        prop_oneof![text(), Just(String::new()), "[a-zé☃𝄞]{0,8}"].prop_map(Tree::Str),
        (
            text(),
            text(),
            prop::collection::vec((text(), any::<u32>(), text()), 0..4)
        )
            .prop_map(|(k, m, tb)| Tree::Error(k, m, tb)),
    ];
    leaf.prop_recursive(6, 200, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Tree::List),
            prop::collection::vec((key(), inner), 0..6).prop_map(|pairs| Tree::Map(distinct_keys(pairs))),
        ]
    })
}

/// A map key: few enough values that keys often repeat (`distinct_keys` then drops the
/// later pairs), and the key the `Refusing` builder refuses.
fn key() -> impl Strategy<Value = Tree> {
    prop_oneof![
        Just(Tree::Nil),
        any::<bool>().prop_map(Tree::Bool),
        (-3i64..4).prop_map(Tree::Int),
        any::<i64>().prop_map(Tree::Int),
        prop_oneof![Just("refused".to_owned()), "[a-c1]{0,2}", "[a-zé☃𝄞]{0,8}"].prop_map(Tree::Str),
    ]
}

/// `pairs` without the pairs whose key an earlier pair has.
fn distinct_keys(pairs: Vec<(Tree, Tree)>) -> Vec<(Tree, Tree)> {
    let mut out: Vec<(Tree, Tree)> = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        if !out.iter().any(|(seen, _)| *seen == k) {
            out.push((k, v));
        }
    }
    out
}

/// Any value the encoder can be made to write, the format's or not: maps with keys of any
/// type and keys that repeat.
fn forged_tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        Just(Tree::Nil),
        any::<bool>().prop_map(Tree::Bool),
        (-3i64..4).prop_map(Tree::Int),
        any::<f64>().prop_map(Tree::Float),
        "[a-c1]{0,2}".prop_map(Tree::Str),
        Just(Tree::Error("E".into(), "m".into(), vec![])),
    ];
    leaf.prop_recursive(5, 100, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Tree::List),
            prop::collection::vec((inner.clone(), inner), 0..6).prop_map(Tree::Map),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decode_inverts_encode(t in tree()) {
        let f = frame(&t);
        prop_assert_eq!(u64::from_le_bytes(f[..PREFIX_LEN].try_into().unwrap()), (f.len() - PREFIX_LEN) as u64);
        prop_assert_eq!(decode_tree(&f[PREFIX_LEN..]), Ok(t.clone()));
        let mut buf = Vec::new();
        prop_assert_eq!(read_frame(&mut Cursor::new(&f), &mut buf, f.len()), Ok(true));
        prop_assert_eq!(decode_tree(&buf), Ok(t));
    }

    #[test]
    fn runs_of_strings_round_trip(texts in prop::collection::vec(prop_oneof![
        "[a-z0-9]{0,6}",
        "[a-zé☃𝄞]{0,4}",
        prop::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
    ], 0..200)) {
        let t = Tree::List(texts.into_iter().map(Tree::Str).collect());
        prop_assert_eq!(decode_tree(&payload(&t)), Ok(t));
    }

    #[test]
    fn forged_maps_are_refused_exactly_when_their_keys_break_the_rules(t in forged_tree(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
        let bytes = payload(&t);
        let whole = decode_tree(&bytes);
        prop_assert_eq!(whole.is_ok(), map_keys_are_valid(&t), "{:?}", whole);
        if let Ok(got) = &whole {
            prop_assert_eq!(got, &t);
        }
        let whole = decode(&bytes, &mut Refusing);
        prop_assert_eq!(decode_in_pieces(&bytes, &cuts), whole.clone());
        prop_assert_eq!(decode_in_separate_pieces(&bytes, &cuts, true), whole.clone());
        match (decode_streamed_in_pieces(&bytes, &cuts), whole) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "streamed {a:?}, whole {b:?}"),
        }
    }

    #[test]
    fn any_pieces_decode_like_the_whole(t in tree(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
        let bytes = payload(&t);
        prop_assert_eq!(decode_in_pieces(&bytes, &cuts), decode(&bytes, &mut Refusing));
        prop_assert_eq!(decode_in_separate_pieces(&bytes, &cuts, true), decode(&bytes, &mut Refusing));
    }

    #[test]
    fn streamed_frames_round_trip(t in tree(), every in 1usize..8, piece in 1usize..40) {
        let f = streamed(&t, every);
        let mut buf = Vec::new();
        prop_assert_eq!(read_frame(&mut Cursor::new(&f), &mut buf, 1 << 20), Ok(true));
        prop_assert_eq!(&buf, &payload(&t));
        prop_assert_eq!(read_and_decode_in_pieces(&f, piece), Ok(t));
    }

    #[test]
    fn while_the_length_is_unknown_the_same_values_are_accepted(t in tree(), cut in any::<prop::sample::Index>(), cuts in prop::collection::vec(any::<usize>(), 0..6), mutate in any::<bool>()) {
        let mut bytes = payload(&t);
        if mutate {
            let at = cut.index(bytes.len());
            bytes[at] ^= 0x41;
        }
        let whole = decode(&bytes, &mut Refusing);
        match (decode_streamed_in_pieces(&bytes, &cuts), whole) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "streamed {a:?}, whole {b:?}"),
        }
    }

    #[test]
    fn any_bytes_in_pieces_decode_like_the_whole(mut bytes in prop::collection::vec(any::<u8>(), 0..64), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
        if !bytes.is_empty() {
            bytes[0] = VERSION;
            bytes.iter_mut().skip(1).step_by(2).for_each(|b| *b %= 10);
        }
        prop_assert_eq!(decode_in_pieces(&bytes, &cuts), decode(&bytes, &mut Refusing));
        prop_assert_eq!(decode_in_separate_pieces(&bytes, &cuts, true), decode(&bytes, &mut Refusing));
    }

    #[test]
    fn prefixes_of_a_valid_payload_are_errors(t in tree(), cut in any::<prop::sample::Index>()) {
        let p = payload(&t);
        let cut = cut.index(p.len());
        prop_assert!(decode_tree(&p[..cut]).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..64), tags in any::<bool>()) {
        if tags {
            // Mostly plausible tags and small counts, to get past the first byte or two.
            bytes.insert(0, VERSION);
            bytes.iter_mut().skip(1).for_each(|b| *b %= 10);
        }
        if let Ok(t) = decode_tree(&bytes) {
            prop_assert_eq!(payload(&t), bytes.clone());
        }
        let _ = decode(&bytes, &mut Count);
        let mut buf = Vec::new();
        let mut r = Cursor::new(&bytes);
        while let Ok(true) = read_frame(&mut r, &mut buf, 64) {}
    }
}

#[test]
fn a_run_of_ints_is_written_as_the_ints_one_by_one() {
    let run = [0, -1, i64::MIN, i64::MAX, 42];
    let mut one_by_one = Encoder::new();
    one_by_one.list(run.len() + 1);
    for &i in &run {
        one_by_one.int(i);
    }
    one_by_one.nil();
    let mut at_once = Encoder::new();
    at_once.list(run.len() + 1);
    at_once.reserve(1000);
    at_once.ints(&run);
    at_once.ints(&[]);
    at_once.nil();
    assert_eq!(at_once.finish(), one_by_one.finish());
    // Through the trait's own loop too (a sink that does not write runs itself).
    let mut looped = Encoder::new();
    looped.list(run.len() + 1);
    Pumped(Counted(&mut looped, 0)).ints(&run);
    looped.nil();
    assert_eq!(looped.finish(), one_by_one.finish());
}

/// A pump that counts the items it is told about.
struct Counted<'e>(&'e mut Encoder, usize);

impl Pump for Counted<'_> {
    fn encoder(&mut self) -> &mut Encoder {
        self.0
    }
    fn after_item(&mut self) {
        self.1 += 1;
    }
}

#[test]
fn pieces_taken_between_items_join_into_the_whole_payload() {
    let t = rich();
    let whole = payload(&t);
    // Cut after every item: the pieces, less the first one's prefix place, are the payload.
    struct Piecing<'e> {
        e: &'e mut Encoder,
        pieces: Vec<Vec<u8>>,
    }
    impl Pump for Piecing<'_> {
        fn encoder(&mut self) -> &mut Encoder {
            self.e
        }
        fn after_item(&mut self) {
            self.pieces.push(self.e.take_piece(16));
        }
    }
    let mut e = Encoder::new();
    let mut sink = Pumped(Piecing {
        e: &mut e,
        pieces: Vec::new(),
    });
    write(&mut sink, &t);
    let Pumped(mut p) = sink;
    assert!(p.e.is_complete());
    p.pieces.push(p.e.take_piece(0));
    let joined: Vec<u8> = p.pieces.concat();
    assert_eq!(&joined[PREFIX_LEN..], &whole[..]);
    // Decoded as they arrive, by a decoder for this process's own encoder: the same tree.
    let mut d = Decoder::from_own_encoder();
    let mut got = Vec::new();
    let mut answer = None;
    for (n, piece) in p.pieces.iter().enumerate() {
        got.extend_from_slice(if n == 0 { &piece[PREFIX_LEN..] } else { piece });
        assert!(answer.is_none());
        answer = d.feed(&got, Length::AtMost(got.len() + 100), &mut TreeBuilder).unwrap();
    }
    let answer = d.feed(&got, Length::Exactly(got.len()), &mut TreeBuilder).unwrap();
    assert_eq!(answer, Some(t));
}

#[test]
fn a_decoder_for_its_own_encoder_still_refuses_bad_bytes() {
    let mut bytes = payload(&Tree::List(vec![Tree::Int(1), Tree::Int(2)]));
    bytes.push(0x2a);
    let mut d = Decoder::from_own_encoder();
    let e = d
        .feed(&bytes, Length::Exactly(bytes.len()), &mut TreeBuilder)
        .unwrap_err();
    assert!(e.0.contains("trailing bytes"), "{e}");
    let mut d = Decoder::<Tree>::from_own_encoder();
    let huge = [&[VERSION, TAG_LIST][..], &u64::MAX.to_le_bytes()].concat();
    let e = d.feed(&huge, Length::AtMost(1 << 20), &mut TreeBuilder).unwrap_err();
    assert!(e.0.contains("does not fit"), "{e}");
}

/// What the general decoder makes of `bytes`, as `decode_pair` would give it: the kind and
/// value of a `[int, value]` list.
fn decoded_as_pair(bytes: &[u8]) -> Option<(i64, Tree)> {
    match decode_tree(bytes) {
        Ok(Tree::List(items)) => match &items[..] {
            [Tree::Int(kind), value] => Some((*kind, value.clone())),
            _ => None,
        },
        _ => None,
    }
}

#[test]
fn a_pair_of_a_kind_and_a_scalar_is_read_in_place() {
    let scalars = [
        Tree::Nil,
        Tree::Bool(false),
        Tree::Bool(true),
        Tree::Int(i64::MIN),
        Tree::Float(-0.0),
        Tree::Float(f64::from_bits(0x7ff8_0000_0000_0001)),
        Tree::Str(String::new()),
        s("ascii"),
        s("naïve ☃ 𝄞"),
    ];
    for (kind, value) in scalars.into_iter().enumerate() {
        let bytes = payload(&Tree::List(vec![Tree::Int(kind as i64 - 1), value.clone()]));
        assert_eq!(decode_pair(&bytes, &mut TreeBuilder), Some((kind as i64 - 1, value)));
    }
    // Anything else is left to the decoder, good or bad.
    let leave = [
        payload(&Tree::List(vec![Tree::Int(0), Tree::List(vec![])])),
        payload(&Tree::List(vec![
            Tree::Int(0),
            Tree::Error("E".into(), "m".into(), vec![]),
        ])),
        payload(&Tree::List(vec![Tree::Int(0), Tree::Int(1), Tree::Int(2)])),
        payload(&Tree::List(vec![s("kind"), Tree::Int(1)])),
        payload(&Tree::Int(3)),
        [payload(&Tree::List(vec![Tree::Int(0), Tree::Int(1)])), vec![0]].concat(),
        [payload(&Tree::List(vec![Tree::Int(0), s("ab")])), vec![b'c']].concat(),
        payload(&Tree::List(vec![Tree::Int(0), s("ab")]))[..29].to_vec(),
        [&payload(&Tree::List(vec![Tree::Int(0), s("")]))[..], &[0xff]].concat(),
        Vec::new(),
    ];
    for bytes in leave {
        assert_eq!(decode_pair(&bytes, &mut TreeBuilder), None, "{bytes:?}");
    }
    let mut bad_utf8 = payload(&Tree::List(vec![Tree::Int(0), s("ab")]));
    *bad_utf8.last_mut().unwrap() = 0xff;
    assert_eq!(decode_pair(&bad_utf8, &mut TreeBuilder), None);
    assert!(decode_tree(&bad_utf8).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Reading a pair in place agrees with the decoder: the same parts when it answers, and
    /// an answer for every kind and scalar.
    #[test]
    fn a_pair_read_in_place_is_what_the_decoder_reads(
        kind in any::<i64>(),
        value in forged_tree(),
        flip in any::<Option<(prop::sample::Index, u8)>>(),
        cut in any::<Option<prop::sample::Index>>(),
    ) {
        let scalar = !matches!(value, Tree::List(_) | Tree::Map(_) | Tree::Error(..));
        let mut bytes = payload(&Tree::List(vec![Tree::Int(kind), value.clone()]));
        let untouched = flip.is_none() && cut.is_none();
        if let Some((at, byte)) = flip {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        if let Some(at) = cut {
            bytes.truncate(at.index(bytes.len()));
        }
        let in_place = decode_pair(&bytes, &mut TreeBuilder);
        if in_place.is_some() {
            prop_assert_eq!(&in_place, &decoded_as_pair(&bytes));
        }
        if untouched && scalar {
            prop_assert_eq!(in_place, Some((kind, value)));
        }
    }
}

/// A `TreeBuilder` that checks the decoder calls `leaf_list` exactly for the non-empty
/// lists of nil, bools, ints and floats only.
struct LeafCheck;

fn is_leaf(t: &Tree) -> bool {
    matches!(t, Tree::Nil | Tree::Bool(_) | Tree::Int(_) | Tree::Float(_))
}

impl Builder for LeafCheck {
    type Value = Tree;
    scalars_as_trees!();
    fn list(&mut self, items: Vec<Tree>) -> Tree {
        assert!(
            items.is_empty() || !items.iter().all(is_leaf),
            "a list of leaves not reported as one: {items:?}"
        );
        TreeBuilder.list(items)
    }
    fn leaf_list(&mut self, items: Vec<Tree>) -> Tree {
        assert!(items.iter().all(is_leaf), "a list reported as leaves: {items:?}");
        TreeBuilder.list(items)
    }
    fn map(&mut self, pairs: Vec<(Tree, Tree)>) -> Result<Tree, WireError> {
        TreeBuilder.map(pairs)
    }
    fn error(&mut self, kind: &str, message: &str, traceback: Vec<(String, u32, String)>) -> Tree {
        TreeBuilder.error(kind, message, traceback)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whole or in pieces, a list is reported as one of leaves exactly when it is.
    #[test]
    fn lists_of_leaves_are_told_apart(t in forged_tree(), cut in any::<prop::sample::Index>()) {
        let bytes = payload(&t);
        let whole = decode(&bytes, &mut LeafCheck);
        prop_assert_eq!(whole.clone(), decode_tree(&bytes));
        let at = cut.index(bytes.len() + 1);
        let mut d = Decoder::new();
        let first = d.feed(&bytes[..at], Length::Exactly(bytes.len()), &mut LeafCheck);
        if let Ok(None) = first {
            prop_assert_eq!(d.feed(&bytes, Length::Exactly(bytes.len()), &mut LeafCheck).ok().flatten(), whole.ok());
        }
    }
}

#[test]
fn a_long_list_of_numbers_is_one_of_leaves() {
    let numbers = Tree::List(
        (0..1000)
            .map(|i| {
                if i % 2 == 0 {
                    Tree::Int(i)
                } else {
                    Tree::Float(i as f64)
                }
            })
            .collect(),
    );
    let with_a_str = Tree::List(vec![Tree::Int(1), s("x"), Tree::Int(2)]);
    let nested = Tree::List(vec![Tree::Int(1), Tree::List(vec![Tree::Nil]), Tree::Bool(true)]);
    for t in [numbers, with_a_str, nested] {
        assert_eq!(decode(&payload(&t), &mut LeafCheck), Ok(t));
    }
}
