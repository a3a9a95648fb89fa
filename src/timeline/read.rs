//! Reading a `--gil-trace` file as a stream: one pass over the JSON hands each element of
//! the `traceEvents` list to a [`Sink`] as soon as it is parsed and then forgets it, so
//! memory does not grow with the file. Its invariant: the reader sees the document exactly
//! as `serde_json::Value` would (the same syntax errors and positions, the same recursion
//! limit, the same number rules, a repeated key meaning its last value), while keeping
//! only the fields the timeline looks at. (Reading from a file, serde_json places one
//! error, "number out of range", a column further right than in the text read whole.)

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};
use std::rc::Rc;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::gil::trace::arg;

/// A JSON number as serde_json keeps it, so the conversions below agree with `Value`'s
/// `as_u64`, `as_i64` and `as_f64`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Num {
    PosInt(u64),
    NegInt(i64),
    Float(f64),
}

impl Num {
    pub(super) fn as_u64(self) -> Option<u64> {
        match self {
            Num::PosInt(n) => Some(n),
            Num::NegInt(_) | Num::Float(_) => None,
        }
    }

    pub(super) fn as_i64(self) -> Option<i64> {
        match self {
            Num::PosInt(n) => i64::try_from(n).ok(),
            Num::NegInt(n) => Some(n),
            Num::Float(_) => None,
        }
    }

    pub(super) fn as_f64(self) -> f64 {
        match self {
            Num::PosInt(n) => n as f64,
            Num::NegInt(n) => n as f64,
            Num::Float(f) => f,
        }
    }
}

/// A field's value, as far as the timeline cares: a number, a string, or anything else
/// (absent, null, a boolean, a list, an object).
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) enum Scalar {
    #[default]
    Other,
    Num(Num),
    Str(String),
}

impl Scalar {
    pub(super) fn num(&self) -> Option<Num> {
        match self {
            Scalar::Num(n) => Some(*n),
            _ => None,
        }
    }

    pub(super) fn str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(super) fn into_string(self) -> Option<String> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The `args` fields the timeline reads; all [`Scalar::Other`] when `args` is absent or
/// not an object.
#[derive(Debug, Default)]
pub(super) struct Args {
    pub(super) name: Scalar,
    pub(super) sort_index: Scalar,
    pub(super) end: Scalar,
    pub(super) holder: Scalar,
    pub(super) to: Scalar,
}

/// One element of the `traceEvents` list; all [`Scalar::Other`] when it is not an object.
#[derive(Debug, Default)]
pub(super) struct RawEvent {
    pub(super) name: Scalar,
    pub(super) ph: Scalar,
    pub(super) tid: Scalar,
    pub(super) ts: Scalar,
    pub(super) dur: Scalar,
    pub(super) args: Args,
}

/// Where the events go.
pub(super) trait Sink {
    /// A `traceEvents` list begins. A document may repeat the key, and then only the last
    /// one counts; `occurrence` numbers the keys from 0, whatever their values. Returns
    /// whether to be handed this list's events (the list is checked either way).
    fn list(&mut self, occurrence: usize) -> bool;
    /// The list's element number `index`.
    fn event(&mut self, index: usize, event: RawEvent);
}

/// What the document is, around its events.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Document {
    pub(super) shape: Shape,
    /// `otherData.script`, when the document is an object that names its script.
    pub(super) script: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Shape {
    /// An object whose last `traceEvents` key (number `occurrence`) holds a list, or a bare
    /// list of events (occurrence 0).
    Listed { occurrence: usize },
    /// An object without a `traceEvents` list.
    NoList,
    /// Neither an object nor a list.
    Neither,
}

/// Read a whole document from `read`, handing events to `sink`. Errors are serde_json's,
/// including any trailing characters after the document.
pub(super) fn read<'de, R: serde_json::de::Read<'de>>(
    read: R,
    sink: &mut impl Sink,
) -> Result<Document, serde_json::Error> {
    let mut de = serde_json::Deserializer::new(read);
    let document = DocumentSeed { sink }.deserialize(&mut de)?;
    de.end()?;
    Ok(document)
}

/// A value consumed and forgotten. Read through `deserialize_any`, like `Value`, rather
/// than serde_json's faster `IgnoredAny`: that one skips nesting without the recursion
/// limit and numbers without their range check, and the errors would differ.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Skip, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

/// Visits any value, nested ones included, and keeps nothing.
struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// Visits a value the caller wants only if it is of one kind; any other kind is consumed
/// (through [`Skip`]) and becomes `T::default()`.
trait Pick<'de>: Sized {
    type Out: Default;
    fn num(self, _: Num) -> Self::Out {
        Self::Out::default()
    }
    fn str(self, _: &str) -> Self::Out {
        Self::Out::default()
    }
    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Self::Out::default())
    }
    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Self::Out::default())
    }
}

/// Adapts a [`Pick`] to serde's `Visitor`.
struct Picking<P>(P);

impl<'de, P: Pick<'de>> Visitor<'de> for Picking<P> {
    type Value = P::Out;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<P::Out, E> {
        Ok(P::Out::default())
    }
    fn visit_i64<E>(self, n: i64) -> Result<P::Out, E> {
        // serde_json calls this only for negative integers; `Value` stores others as PosInt.
        Ok(self.0.num(if n < 0 { Num::NegInt(n) } else { Num::PosInt(n as u64) }))
    }
    fn visit_u64<E>(self, n: u64) -> Result<P::Out, E> {
        Ok(self.0.num(Num::PosInt(n)))
    }
    fn visit_f64<E>(self, f: f64) -> Result<P::Out, E> {
        Ok(self.0.num(Num::Float(f)))
    }
    fn visit_str<E>(self, s: &str) -> Result<P::Out, E> {
        Ok(self.0.str(s))
    }
    fn visit_unit<E>(self) -> Result<P::Out, E> {
        Ok(P::Out::default())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<P::Out, A::Error> {
        self.0.seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<P::Out, A::Error> {
        self.0.map(map)
    }
}

impl<'de> Pick<'de> for Scalar {
    type Out = Scalar;
    fn num(self, n: Num) -> Scalar {
        Scalar::Num(n)
    }
    fn str(self, s: &str) -> Scalar {
        Scalar::Str(s.to_owned())
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(Picking(Scalar::Other))
    }
}

/// An object key, recognised without allocating; `K` lists the keys of interest.
struct Key<K>(Option<K>);

impl<'de, K: KeyName> Deserialize<'de> for Key<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<K>, D::Error> {
        struct KeyVisitor<K>(std::marker::PhantomData<K>);
        impl<'de, K: KeyName> Visitor<'de> for KeyVisitor<K> {
            type Value = Key<K>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<K>, E> {
                Ok(Key(K::from_name(s)))
            }
        }
        d.deserialize_any(KeyVisitor(std::marker::PhantomData))
    }
}

trait KeyName: Sized {
    fn from_name(name: &str) -> Option<Self>;
}

enum EventKey {
    Name,
    Ph,
    Tid,
    Ts,
    Dur,
    Args,
}

impl KeyName for EventKey {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "name" => EventKey::Name,
            "ph" => EventKey::Ph,
            "tid" => EventKey::Tid,
            "ts" => EventKey::Ts,
            "dur" => EventKey::Dur,
            "args" => EventKey::Args,
            _ => return None,
        })
    }
}

enum ArgKey {
    Name,
    SortIndex,
    End,
    Holder,
    To,
}

impl KeyName for ArgKey {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            arg::NAME => ArgKey::Name,
            arg::SORT_INDEX => ArgKey::SortIndex,
            arg::END => ArgKey::End,
            arg::HOLDER => ArgKey::Holder,
            arg::TO => ArgKey::To,
            _ => return None,
        })
    }
}

enum TopKey {
    TraceEvents,
    OtherData,
}

impl KeyName for TopKey {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "traceEvents" => TopKey::TraceEvents,
            "otherData" => TopKey::OtherData,
            _ => return None,
        })
    }
}

struct OtherDataKey;

impl KeyName for OtherDataKey {
    fn from_name(name: &str) -> Option<Self> {
        (name == "script").then_some(OtherDataKey)
    }
}

impl<'de> Pick<'de> for Args {
    type Out = Args;
    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Args, A::Error> {
        let mut args = Args::default();
        while let Some(key) = map.next_key::<Key<ArgKey>>()? {
            let field = match key.0 {
                Some(ArgKey::Name) => &mut args.name,
                Some(ArgKey::SortIndex) => &mut args.sort_index,
                Some(ArgKey::End) => &mut args.end,
                Some(ArgKey::Holder) => &mut args.holder,
                Some(ArgKey::To) => &mut args.to,
                None => {
                    map.next_value::<Skip>()?;
                    continue;
                }
            };
            *field = map.next_value()?;
        }
        Ok(args)
    }
}

impl<'de> Deserialize<'de> for Args {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Args, D::Error> {
        d.deserialize_any(Picking(Args::default()))
    }
}

impl<'de> Pick<'de> for RawEvent {
    type Out = RawEvent;
    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEvent, A::Error> {
        let mut event = RawEvent::default();
        while let Some(key) = map.next_key::<Key<EventKey>>()? {
            match key.0 {
                Some(EventKey::Name) => event.name = map.next_value()?,
                Some(EventKey::Ph) => event.ph = map.next_value()?,
                Some(EventKey::Tid) => event.tid = map.next_value()?,
                Some(EventKey::Ts) => event.ts = map.next_value()?,
                Some(EventKey::Dur) => event.dur = map.next_value()?,
                Some(EventKey::Args) => event.args = map.next_value()?,
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(event)
    }
}

impl<'de> Deserialize<'de> for RawEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawEvent, D::Error> {
        d.deserialize_any(Picking(RawEvent::default()))
    }
}

/// `otherData`: only its `script`, if a string.
struct OtherData;

impl<'de> Pick<'de> for OtherData {
    type Out = Option<String>;
    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        let mut script = None;
        while let Some(key) = map.next_key::<Key<OtherDataKey>>()? {
            match key.0 {
                Some(OtherDataKey) => script = map.next_value::<Scalar>()?.into_string(),
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(script)
    }
}

/// A `traceEvents` value: a list streamed to the sink (true), or anything else (false).
struct Events<'s, S> {
    sink: &'s mut S,
    occurrence: usize,
}

impl<'de, S: Sink> Pick<'de> for Events<'_, S> {
    type Out = bool;
    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        if self.sink.list(self.occurrence) {
            let mut index = 0;
            while let Some(event) = seq.next_element::<RawEvent>()? {
                self.sink.event(index, event);
                index += 1;
            }
        } else {
            while seq.next_element::<Skip>()?.is_some() {}
        }
        Ok(true)
    }
}

impl<'de, S: Sink> DeserializeSeed<'de> for Events<'_, S> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(Picking(self))
    }
}

impl<'de> DeserializeSeed<'de> for OtherData {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(Picking(self))
    }
}

/// The whole document.
struct DocumentSeed<'s, S> {
    sink: &'s mut S,
}

impl Default for Document {
    fn default() -> Self {
        Document {
            shape: Shape::Neither,
            script: None,
        }
    }
}

impl<'de, S: Sink> Pick<'de> for DocumentSeed<'_, S> {
    type Out = Document;
    fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Document, A::Error> {
        Events {
            sink: self.sink,
            occurrence: 0,
        }
        .seq(seq)?;
        Ok(Document {
            shape: Shape::Listed { occurrence: 0 },
            script: None,
        })
    }
    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut document = Document {
            shape: Shape::NoList,
            script: None,
        };
        let mut occurrence = 0;
        while let Some(key) = map.next_key::<Key<TopKey>>()? {
            match key.0 {
                Some(TopKey::TraceEvents) => {
                    let listed = map.next_value_seed(Events {
                        sink: &mut *self.sink,
                        occurrence,
                    })?;
                    document.shape = if listed {
                        Shape::Listed { occurrence }
                    } else {
                        Shape::NoList
                    };
                    occurrence += 1;
                }
                Some(TopKey::OtherData) => document.script = map.next_value_seed(OtherData)?,
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(document)
    }
}

impl<'de, S: Sink> DeserializeSeed<'de> for DocumentSeed<'_, S> {
    type Value = Document;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Document, D::Error> {
        d.deserialize_any(Picking(self))
    }
}

/// Passes bytes through and notes whether they are all UTF-8, so that a file can be
/// refused as "not UTF-8 text" whatever else is wrong with it, as when it was read whole.
/// The verdict is shared, to be read once the reader has been handed to the parser.
pub(super) struct Utf8Check<R> {
    inner: R,
    /// The start of a character cut off at the end of the last read.
    carry: [u8; 4],
    carry_len: usize,
    valid: Rc<Cell<bool>>,
}

impl<R: Read> Utf8Check<R> {
    /// The checking reader, and the flag that says whether all it passed on was UTF-8 (an
    /// unfinished character at the end of the input counts as not UTF-8 once the end is
    /// read).
    pub(super) fn new(inner: R) -> (Utf8Check<R>, Rc<Cell<bool>>) {
        let valid = Rc::new(Cell::new(true));
        let check = Utf8Check {
            inner,
            carry: [0; 4],
            carry_len: 0,
            valid: valid.clone(),
        };
        (check, valid)
    }

    fn check(&mut self, mut bytes: &[u8]) {
        if !self.valid.get() {
            return;
        }
        while self.carry_len > 0 {
            let Some((&byte, rest)) = bytes.split_first() else {
                return;
            };
            bytes = rest;
            self.carry[self.carry_len] = byte;
            self.carry_len += 1;
            match std::str::from_utf8(&self.carry[..self.carry_len]) {
                Ok(_) => self.carry_len = 0,
                Err(e) if e.error_len().is_some() => return self.valid.set(false),
                Err(_) => {} // still unfinished: at most 3 of a character's 4 bytes
            }
        }
        if let Err(e) = std::str::from_utf8(bytes) {
            if e.error_len().is_some() {
                return self.valid.set(false);
            }
            let tail = &bytes[e.valid_up_to()..];
            self.carry[..tail.len()].copy_from_slice(tail);
            self.carry_len = tail.len();
        }
    }
}

impl<R: Read> Read for Utf8Check<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            if self.carry_len > 0 {
                self.valid.set(false);
            }
        } else {
            self.check(&buf[..n]);
        }
        Ok(n)
    }
}
