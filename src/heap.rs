//! The heap: an arena of toy objects addressed by `ObjId`, its mark-and-sweep collector,
//! and its accounting of bytes, which paces the collector and enforces the memory limit.
//!
//! Invariants: objects are reachable only through the heap, and the heap only through the
//! GIL (it lives inside the interpreter state that `Gil<T>` owns). The collector runs only
//! when every live value is in a global, on some thread's frame stack, in a pinned
//! constant, or inside another live object — the roots the VM hands to `collect` (a check
//! point, or a `Vm::reserve` whose caller holds nothing else). A freed slot is reused; a
//! `Value` naming it can no longer exist because nothing reachable referred to it. The
//! free slots are linked through themselves (`Obj::Free`), so the free list costs no memory
//! of its own.
//! Every byte an object comes to own — at birth, and when a list, map or string buffer
//! grows — is charged (`charge`), except the slot it is born in when that slot is a free
//! one: the arena was charged when it grew into it, and it asks for a collection before it
//! grows again (`arena_trigger`). So `accounted()` never falls below what the live objects
//! own beyond the arena the heap already had, and a collection is asked for once the bytes
//! charged since the last one pass the pacing threshold or the memory limit, or the arena
//! is about to reallocate.

use crate::object::{Closure, ErrorObj, Kind, ListObj, MapObj, Obj, StrObj, Traceback};
use crate::value::{KeyRef, MapKey, ObjId, Value};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Eval-breaker bit owned by the heap: a collection is wanted at the next check point.
pub const BREAK_GC: u32 = 2;

impl Value {
    /// What kind of value this is.
    #[inline]
    pub fn kind(self, heap: &Heap) -> Kind {
        match self {
            Value::Nil | Value::Undef => Kind::Nil,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) => Kind::Int,
            Value::Float(_) => Kind::Float,
            Value::Str(_) => Kind::Str,
            Value::List(_) => Kind::List,
            Value::Map(_) => Kind::Map,
            Value::Func(_) => Kind::Func,
            Value::Builtin(_) => Kind::Builtin,
            Value::Obj(id) => heap.get(id).kind(),
        }
    }

    /// The name `type(x)` returns.
    pub fn type_name(self, heap: &Heap) -> &'static str {
        self.kind(heap).name()
    }

    pub fn truthy(self, heap: &Heap) -> bool {
        match self {
            Value::Nil | Value::Undef => false,
            Value::Bool(b) => b.get(),
            Value::Int(i) => i != 0,
            Value::Float(f) => f.get() != 0.0,
            Value::Str(id) => !heap.str(id).is_empty(),
            Value::List(id) => !heap.list(id).is_empty(),
            Value::Map(id) => !heap.map(id).is_empty(),
            _ => true,
        }
    }
}

impl Heap {
    /// The key a value stands for in a map, or None if that type cannot be a key.
    pub fn key_ref(&self, v: Value) -> Option<KeyRef<'_>> {
        match v {
            Value::Nil => Some(KeyRef::Nil),
            Value::Bool(b) => Some(KeyRef::Bool(b.get())),
            Value::Int(i) => Some(KeyRef::Int(i)),
            Value::Str(id) => Some(KeyRef::Str(self.str(id))),
            _ => None,
        }
    }

    /// An owning key; shares the string's bytes.
    pub fn map_key(&self, v: Value) -> Option<MapKey> {
        match v {
            Value::Nil => Some(MapKey::Nil),
            Value::Bool(b) => Some(MapKey::Bool(b.get())),
            Value::Int(i) => Some(MapKey::Int(i)),
            Value::Str(id) => Some(MapKey::Str(self.str_rc(id))),
            _ => None,
        }
    }
}

/// Why a list, map or string buffer did not grow: it would pass the memory limit (after a
/// collection it may fit), or the allocator refused, or it would ask for a collection and
/// should let one run first (`CollectFirst`). Whichever, nothing has changed. Each carries
/// the bytes the growth needed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GrowError {
    OverLimit(usize),
    Failed(usize),
    CollectFirst(usize),
}

pub struct Heap {
    objs: Vec<Obj>,
    /// The lowest free slot, the head of the list the free slots make (`NO_SLOT`: none).
    free_head: u32,
    /// How many slots are on the free list.
    free_len: usize,
    /// Objects that are roots forever: constants of compiled code.
    pinned: Vec<ObjId>,
    /// Every object allocated since the last collection at a check point. A collection
    /// that a reservation runs in the middle of a builtin keeps them all: the builtin may
    /// hold any of them in Rust locals only (a list of new strings it is still building).
    young: Vec<u32>,
    allocs_since_gc: usize,
    next_gc: usize,
    /// The arena length at which an allocation asks for a collection because the arena is
    /// about to reallocate (`arena_trigger`); `usize::MAX` once asked, until the next
    /// collection.
    arena_trigger: usize,
    /// Set when the arena asked for the collection that comes next.
    arena_asked: bool,
    /// An arena capacity at which asking freed too little: not asked again until the
    /// arena has grown past it.
    arena_full_at: usize,
    /// Bytes the objects that survived the last collection own (`approx_size`).
    live_bytes: usize,
    /// Bytes allocated, or grown into, since the last collection: a few big strings or one
    /// growing list must trigger a collection as surely as many small objects do.
    bytes_since_gc: usize,
    /// `bytes_since_gc` at which a collection is asked for: the pacing threshold, or the
    /// room left under the limit, whichever comes first.
    gc_trigger_bytes: usize,
    /// `bytes_since_gc` past which a buffer's growth (or a builtin's big allocation) waits
    /// for a collection (`collect_first`): sooner than `gc_trigger_bytes`, paced by the
    /// live buffers (`growth_pace`), or the room left under the limit.
    growth_trigger_bytes: usize,
    /// The memory limit in bytes (`usize::MAX`: none).
    max_bytes: usize,
    /// Set when a growth asked to collect first and no collection could run (see
    /// `collect_first`): growths go ahead until the next collection.
    collect_first_waived: bool,
    /// Shared with the GIL: setting `BREAK_GC` makes the running thread stop at its next
    /// check point, where it collects.
    pub breaker: Arc<AtomicU32>,
    pub collections: u64,
    /// Names of the builtin and host functions, by `Value::Builtin` index, for printing.
    pub builtin_names: Vec<Rc<str>>,
}

/// The end of the free list.
const NO_SLOT: u32 = u32::MAX;

/// The fewest objects allocated between two collections.
const MIN_GC_THRESHOLD: usize = 1 << 16;
/// The fewest bytes charged between two collections: a program whose live data is small
/// collects after this much, not after every few objects.
const MIN_GC_BYTES: usize = 8 << 20;
/// The next collection comes once the objects (or bytes) allocated since the last one
/// reach the live ones divided by this: the dead then never pass half the live (plus the
/// floors), so a heap of live data L peaks near 1.5 L. Each collection marks the live data
/// again, so a smaller share would cost time for programs whose live data is large.
const PACE_DIVISOR: usize = 2;
/// A buffer (list items, a map's table, a split's pieces) grows without waiting for a
/// collection until the live buffers' bytes divided by this have been charged (see
/// `growth_pace`): a dead buffer is big and comes back at once, so a map rebuilt in a loop
/// frees its old table before the new one grows past a quarter of it.
const BUFFER_PACE_DIVISOR: usize = 4;

/// The arena asks for a collection when it has this share of its capacity left (1/64) and
/// no free slot: see `arena_trigger`.
const ARENA_MARGIN_SHIFT: u32 = 6;

/// The arena length at which allocating asks for a collection: just before a full arena of
/// `capacity` slots would reallocate. Objects that died since the last collection free
/// slots there, and the arena need not grow. Without it a program that drops a big
/// structure and builds the next one (a loop of `",".join(list of a million strings)`)
/// grew the arena by the new structure before the pacing trigger came, and kept the pages:
/// 1.39M slots where 1M suffice. When such a collection leaves less than an eighth of the
/// arena free, the arena grows without asking again at that size (`arena_full_at`), so a
/// program whose live data only grows pays one extra collection per doubling of the arena.
/// Small arenas are left to the pacing, which collects at least every `MIN_GC_THRESHOLD`
/// allocations anyway.
fn arena_trigger(capacity: usize) -> usize {
    if capacity >= 2 * MIN_GC_THRESHOLD {
        capacity - (capacity >> ARENA_MARGIN_SHIFT)
    } else {
        usize::MAX
    }
}

/// The bytes a heap slot takes.
const SLOT_BYTES: usize = std::mem::size_of::<Obj>();

/// Roughly what one short string costs the heap: its slot and its text with the text's
/// header (for reserving before making many at once, as `split` does).
pub const SHORT_STR_BYTES: usize = 96;

/// The bytes one list item takes.
pub const ITEM_BYTES: usize = std::mem::size_of::<Value>();

/// Roughly how many bytes an object owns, for pacing the collector and the memory limit.
#[inline(always)]
pub fn approx_size(obj: &Obj) -> usize {
    SLOT_BYTES
        + match obj {
            Obj::Str(s) => s.heap_bytes(),
            Obj::List(items) => items.capacity() * ITEM_BYTES,
            Obj::Map(m) => m.approx_bytes(),
            Obj::Error(e) => e.traceback.approx_bytes(),
            Obj::Process(p) => p.channel.approx_bytes() + p.pending.iter().map(Vec::len).sum::<usize>(),
            Obj::Channel(c) => c.channel.approx_bytes(),
            Obj::Queue(q) => q.items.capacity() * ITEM_BYTES,
            _ => 0,
        }
}

impl Heap {
    pub fn new(breaker: Arc<AtomicU32>) -> Heap {
        Heap {
            objs: Vec::new(),
            free_head: NO_SLOT,
            free_len: 0,
            pinned: Vec::new(),
            young: Vec::new(),
            allocs_since_gc: 0,
            next_gc: MIN_GC_THRESHOLD,
            arena_trigger: usize::MAX,
            arena_asked: false,
            arena_full_at: 0,
            live_bytes: 0,
            bytes_since_gc: 0,
            gc_trigger_bytes: MIN_GC_BYTES,
            growth_trigger_bytes: MIN_GC_BYTES,
            max_bytes: usize::MAX,
            collect_first_waived: false,
            breaker,
            collections: 0,
            builtin_names: Vec::new(),
        }
    }

    pub fn alloc(&mut self, obj: Obj) -> ObjId {
        let bytes = approx_size(&obj);
        let i = if self.free_head == NO_SLOT {
            // A new slot is new memory: it counts towards the next collection by number
            // and by bytes, and the arena asks for one before it reallocates.
            self.allocs_since_gc += 1;
            if self.allocs_since_gc == self.next_gc || self.objs.len() >= self.arena_trigger {
                self.breaker.fetch_or(BREAK_GC, Ordering::Relaxed);
                if self.objs.len() >= self.arena_trigger {
                    self.arena_trigger = usize::MAX;
                    self.arena_asked = true;
                }
            }
            self.charge(bytes);
            self.objs.push(obj);
            self.objs.len() - 1
        } else {
            // A free slot was charged when the arena grew into it, and the arena asks for a
            // collection before it grows again: reusing one costs no new memory, so only
            // what the object owns beside its slot brings the next collection nearer. A
            // loop that drops a million strings and makes the next million then collects
            // when the free slots run out, not every half of the live count.
            self.charge(bytes - SLOT_BYTES);
            let i = self.free_head as usize;
            let Obj::Free(next) = std::mem::replace(&mut self.objs[i], obj) else {
                unreachable!("the free list links only free slots")
            };
            self.free_head = next;
            self.free_len -= 1;
            i
        };
        self.young.push(i as u32);
        ObjId::new(i as u32)
    }

    /// Counts `bytes` that an object came to own (at birth, or by growing a buffer). Asks
    /// for a collection once, when the bytes since the last one first reach the trigger.
    #[inline]
    pub fn charge(&mut self, bytes: usize) {
        let before = self.bytes_since_gc;
        self.bytes_since_gc = before.saturating_add(bytes);
        if before < self.gc_trigger_bytes && self.bytes_since_gc >= self.gc_trigger_bytes {
            self.breaker.fetch_or(BREAK_GC, Ordering::Relaxed);
        }
    }

    /// The bytes charged since the last collection (what the instruction limit charges for
    /// allocation, see `Vm::charge_allocation`).
    pub fn bytes_since_gc(&self) -> usize {
        self.bytes_since_gc
    }

    /// The bytes the heap may own now: what survived the last collection plus everything
    /// charged since (an over-estimate until the next collection frees the dead).
    pub fn accounted(&self) -> usize {
        self.live_bytes.saturating_add(self.bytes_since_gc)
    }

    /// Whether growing a buffer by `bytes` should wait for a collection: the growth would
    /// pass the pacing trigger, so a collection comes at the next check point anyway, and
    /// run first it frees the dead before the new buffer is added to them. A map or list
    /// refilled in a loop then peaks at one copy, not at the dead old one beside the new
    /// one grown to full size.
    #[inline]
    fn collect_first(&self, bytes: usize) -> bool {
        !self.collect_first_waived
            && self.bytes_since_gc != 0
            && self.bytes_since_gc.saturating_add(bytes) >= self.growth_trigger_bytes
    }

    /// Whether a builtin may allocate `bytes` at once (the pieces of a split): `OverLimit`
    /// past the memory limit, and `CollectFirst` when they would pass the growth trigger,
    /// so the collection that is due anyway runs before them, not after, and the garbage
    /// of the loop that built the input is freed before the output is added to it. Charges
    /// nothing: the allocations are charged as they happen.
    pub fn room_for(&self, bytes: usize) -> Result<(), GrowError> {
        if !self.fits(bytes) {
            return Err(GrowError::OverLimit(bytes));
        }
        if self.collect_first(bytes) {
            return Err(GrowError::CollectFirst(bytes));
        }
        Ok(())
    }

    /// Lets growths go ahead without collecting until the next collection (the VM cannot
    /// collect now).
    pub fn waive_collect_first(&mut self) {
        self.collect_first_waived = true;
    }

    /// Whether `bytes` more stay within the memory limit.
    pub fn fits(&self, bytes: usize) -> bool {
        self.accounted().saturating_add(bytes) <= self.max_bytes
    }

    /// Whether the heap is over its memory limit.
    pub fn over_limit(&self) -> bool {
        self.accounted() > self.max_bytes
    }

    /// The memory limit in bytes, if there is one.
    pub fn max_bytes(&self) -> Option<usize> {
        (self.max_bytes != usize::MAX).then_some(self.max_bytes)
    }

    /// Sets the memory limit (`None`: no limit).
    pub fn set_max_bytes(&mut self, max: Option<usize>) {
        self.max_bytes = max.unwrap_or(usize::MAX);
        self.set_triggers();
    }

    /// The bytes charged after a collection past which a buffer's growth waits for the next
    /// one: half the live slots' bytes and a quarter of the live buffers'
    /// (`BUFFER_PACE_DIVISOR`), at least `MIN_GC_BYTES`. Only growths wait this little: a
    /// loop making a million short strings is paced by `gc_trigger_bytes`, and collecting
    /// as often would mark them all again for little.
    fn growth_pace(&self) -> usize {
        let slots = self.live_objects().saturating_mul(SLOT_BYTES).min(self.live_bytes);
        let buffers = self.live_bytes - slots;
        (slots / PACE_DIVISOR + buffers / BUFFER_PACE_DIVISOR).max(MIN_GC_BYTES)
    }

    /// Asks for the next collection after half the live bytes more, a buffer's growth to
    /// wait for it after `growth_pace`, and either as soon as the heap would pass its
    /// limit. Once the live data alone is over the limit, only the pacing asks: the check
    /// point after that collection throws `MemoryError`, and collecting at every check
    /// point would not free anything more.
    fn set_triggers(&mut self) {
        let room = self.max_bytes.saturating_sub(self.live_bytes);
        let within = |pace: usize| {
            if room > 0 {
                pace.min(room.saturating_add(1))
            } else {
                pace
            }
        };
        self.gc_trigger_bytes = within((self.live_bytes / PACE_DIVISOR).max(MIN_GC_BYTES));
        self.growth_trigger_bytes = within(self.growth_pace());
    }

    /// An object that is never collected (a constant of compiled code).
    pub fn alloc_pinned(&mut self, obj: Obj) -> ObjId {
        let id = self.alloc(obj);
        self.pinned.push(id);
        id
    }

    /// Makes an existing object a permanent root (a module table, say).
    pub fn pin(&mut self, id: ObjId) {
        self.pinned.push(id);
    }

    pub fn live_objects(&self) -> usize {
        self.objs.len() - self.free_len
    }

    #[inline]
    pub fn get(&self, id: ObjId) -> &Obj {
        &self.objs[id.index()]
    }

    #[inline]
    pub fn get_mut(&mut self, id: ObjId) -> &mut Obj {
        &mut self.objs[id.index()]
    }

    /// A string of `s`: short texts are copied into the slot, longer ones shared (an
    /// `Rc<str>` or `String` passed in is turned into the `Rc` without copying where it can).
    pub fn new_str<S: AsRef<str> + Into<Rc<str>>>(&mut self, s: S) -> Value {
        let obj = if s.as_ref().len() <= crate::object::INLINE_STR_MAX {
            StrObj::copied(s.as_ref())
        } else {
            StrObj::new(s.into())
        };
        Value::Str(self.alloc(Obj::Str(obj)))
    }

    /// String `a` followed by string `b`, if the two fit in a slot (see
    /// `StrObj::joined_short`).
    pub fn new_str_joined_short(&mut self, a: ObjId, b: ObjId) -> Option<Value> {
        let joined = StrObj::joined_short(self.str_obj(a), self.str_obj(b))?;
        Some(Value::Str(self.alloc(Obj::Str(joined))))
    }

    /// A string of `text`, keeping its buffer when it is long (see `StrObj::owned`).
    pub fn new_string(&mut self, text: String) -> Value {
        Value::Str(self.alloc(Obj::Str(StrObj::owned(text))))
    }

    /// A string whose text is known to be ASCII (so its char count is its length): the
    /// many short strings of a received message, without counting their chars.
    pub fn new_ascii_str(&mut self, s: &str) -> Value {
        debug_assert!(s.is_ascii());
        Value::Str(self.alloc(Obj::Str(StrObj::copied_with_chars(s, s.len()))))
    }

    pub fn new_list(&mut self, items: Vec<Value>) -> Value {
        Value::List(self.alloc(Obj::List(ListObj::new(items))))
    }

    /// A list of numbers, bools and nil only, which the collector need not read.
    pub fn new_leaf_list(&mut self, items: Vec<Value>) -> Value {
        Value::List(self.alloc(Obj::List(ListObj::of_leaves(items))))
    }

    pub fn new_map(&mut self, m: MapObj) -> Value {
        Value::Map(self.alloc(Obj::Map(m)))
    }

    pub fn new_error(&mut self, kind: &str, message: &str) -> Value {
        Value::Obj(self.alloc(Obj::Error(Box::new(ErrorObj {
            kind: kind.into(),
            message: message.into(),
            traceback: Traceback::default(),
        }))))
    }

    /// The value a map key stands for (allocates a string for string keys).
    pub fn key_value(&mut self, k: &MapKey) -> Value {
        match k {
            MapKey::Nil => Value::Nil,
            MapKey::Bool(b) => Value::bool(*b),
            MapKey::Int(i) => Value::Int(*i),
            MapKey::Str(s) => self.new_str(s.as_ref()),
        }
    }

    #[inline]
    pub fn str(&self, id: ObjId) -> &str {
        match self.get(id) {
            Obj::Str(s) => s.text(),
            other => mismatch("str", other),
        }
    }

    /// String `id`'s bytes, unchecked (for copying and measuring: see `StrObj::as_bytes`).
    #[inline]
    pub fn str_bytes(&self, id: ObjId) -> &[u8] {
        self.str_obj(id).as_bytes()
    }

    /// The hash a map gives string `id` as a key (cached in the string).
    #[inline]
    pub fn str_hash(&self, id: ObjId) -> u64 {
        let so = self.str_obj(id);
        if so.is_building() {
            return crate::dict::hash_str_bytes(so.as_bytes());
        }
        let cached = so.hash.get();
        if cached != 0 {
            return cached;
        }
        let h = crate::dict::hash_str_bytes(so.as_bytes());
        so.hash.set(h);
        h
    }

    /// The cached hash of string `key`, and the test that a map key is its text: what a
    /// map lookup by a string object needs.
    #[inline]
    fn str_key(&self, key: ObjId) -> (u64, impl Fn(&MapKey) -> bool + '_) {
        let text = self.str_bytes(key);
        (
            self.str_hash(key),
            move |k: &MapKey| matches!(k, MapKey::Str(x) if same_text(x, text)),
        )
    }

    /// `map[key]` for a string key, using the key's cached hash.
    #[inline]
    pub fn map_get_str(&self, map: ObjId, key: ObjId) -> Option<Value> {
        let (hash, same) = self.str_key(key);
        self.map(map).get_hashed(hash, same).copied()
    }

    /// Where string `key` is in `map` (for `Dict::value_at`), using the key's cached hash.
    #[inline]
    pub fn map_find_str(&self, map: ObjId, key: ObjId) -> Option<usize> {
        let (hash, same) = self.str_key(key);
        self.map(map).find_hashed(hash, same)
    }

    /// Makes room in `id` for `additional` more items (at least doubling, so a loop of
    /// appends stays linear), charging what the buffer grew by.
    #[cold]
    #[inline(never)]
    pub fn list_reserve(&mut self, id: ObjId, additional: usize) -> Result<(), GrowError> {
        let items = self.list(id);
        let (len, cap) = (items.len(), items.capacity());
        if cap - len >= additional {
            return Ok(());
        }
        let want = len.saturating_add(additional).max(cap.saturating_mul(2)).max(4);
        let bytes = (want - cap).saturating_mul(ITEM_BYTES);
        if !self.fits(bytes) {
            return Err(GrowError::OverLimit(bytes));
        }
        if self.collect_first(bytes) {
            return Err(GrowError::CollectFirst(bytes));
        }
        let items = self.list_obj_mut(id);
        items
            .try_reserve_exact(want - len)
            .map_err(|_| GrowError::Failed(bytes))?;
        let grown = (items.capacity() - cap) * ITEM_BYTES;
        self.charge(grown);
        Ok(())
    }

    /// `xs.append(v)`: the buffer grows (and is charged) only when it is full.
    #[inline]
    pub fn list_push(&mut self, id: ObjId, v: Value) -> Result<(), GrowError> {
        let items = self.list(id);
        if items.len() == items.capacity() {
            self.list_reserve(id, 1)?;
        }
        self.list_obj_mut(id).push(v);
        Ok(())
    }

    /// Makes room in full map `id` for one more key, charging what it grew by.
    #[cold]
    #[inline(never)]
    fn grow_map(&mut self, id: ObjId) -> Result<(), GrowError> {
        let bytes = self.map(id).growth_bytes();
        if !self.fits(bytes) {
            return Err(GrowError::OverLimit(bytes));
        }
        if self.collect_first(bytes) {
            return Err(GrowError::CollectFirst(bytes));
        }
        let grown = self.map_mut(id).make_room().map_err(|_| GrowError::Failed(bytes))?;
        self.charge(grown);
        Ok(())
    }

    /// `map[key] = v`, growing the map (and charging it) first if it is full.
    #[inline]
    pub fn map_insert(&mut self, map: ObjId, key: MapKey, v: Value) -> Result<(), GrowError> {
        let m = self.map_mut(map);
        if !m.is_full() {
            m.insert(key, v);
            return Ok(());
        }
        self.grow_map(map)?;
        self.map_mut(map).insert(key, v);
        Ok(())
    }

    /// `map[key] = v` for a string key: updates in place when the key exists.
    pub fn map_set_str(&mut self, map: ObjId, key: ObjId, v: Value) -> Result<(), GrowError> {
        let (hash, found) = {
            let (hash, same) = self.str_key(key);
            (hash, self.map(map).lookup_hashed(hash, same))
        };
        match found {
            Ok(i) => *self.map_mut(map).value_at_mut(i) = v,
            Err(Some(slot)) if !self.map(map).is_full() => {
                let text = self.str_share(key);
                self.map_mut(map).insert_new_at(slot, hash, MapKey::Str(text), v);
            }
            Err(_) => {
                self.grow_map(map)?;
                let text = self.str_share(key);
                self.map_mut(map).insert_hashed(hash, MapKey::Str(text), v);
            }
        }
        Ok(())
    }

    /// `AppendStr`: appends `tail` to the string being built in `id`, or, if `id` is an
    /// ordinary (possibly shared) string, returns a new building string `id + tail`. The
    /// buffer doubles as it grows, and every byte it grows by is charged. Fails, having
    /// changed nothing, when the longer buffer would pass the limit or cannot be had.
    pub fn append_str(&mut self, id: ObjId, tail: ObjId) -> Result<ObjId, GrowError> {
        let room = self.max_bytes.saturating_sub(self.accounted());
        // The common case, a building string and another string, borrows both slots at
        // once: the piece is copied straight into the buffer, not first into a `String`
        // of its own (a malloc and a free per `+=`).
        if id != tail
            && let Ok([Obj::Str(head), Obj::Str(piece)]) = self.objs.get_disjoint_mut([id.index(), tail.index()])
            && let Some(b) = head.building_mut()
        {
            let grown = push_piece(b, piece.text(), room)?;
            head.chars += piece.chars;
            self.charge(grown);
            return Ok(id);
        }
        let (head, piece) = (self.str_obj(id), self.str_obj(tail));
        if head.is_building() {
            // `s += s`: the piece is the buffer itself, so it is copied out first.
            let (text, chars) = (piece.text().to_string(), piece.chars);
            let Obj::Str(s) = self.get_mut(id) else {
                unreachable!("a string")
            };
            let Some(b) = s.building_mut() else {
                unreachable!("checked")
            };
            let grown = push_piece(b, &text, room)?;
            s.chars += chars;
            self.charge(grown);
            return Ok(id);
        }
        // An ordinary (possibly shared) head: a new building string of both texts.
        let want = (head.text().len() + piece.text().len()).saturating_mul(2);
        if want > room {
            return Err(GrowError::OverLimit(want));
        }
        let mut text = String::new();
        text.try_reserve_exact(want).map_err(|_| GrowError::Failed(want))?;
        text.push_str(head.text());
        text.push_str(piece.text());
        let chars = head.chars + piece.chars;
        Ok(self.alloc(Obj::Str(StrObj::building(text, chars))))
    }

    /// `Freeze`: a string being built becomes an ordinary immutable string.
    pub fn freeze_str(&mut self, id: ObjId) {
        if let Obj::Str(s) = self.get_mut(id) {
            s.freeze();
        }
    }

    #[inline]
    pub fn str_obj(&self, id: ObjId) -> &StrObj {
        match self.get(id) {
            Obj::Str(s) => s,
            other => mismatch("str", other),
        }
    }

    /// String `id`'s text as an `Rc`, for holding while the heap changes (a copy when the
    /// text is in the slot).
    pub fn str_rc(&self, id: ObjId) -> Rc<str> {
        self.str_obj(id).to_rc()
    }

    /// String `id`'s text as an `Rc` that the string shares from now on (see
    /// `StrObj::share`): a long joined text a method is called on is copied once, not at
    /// every call.
    pub fn str_share(&mut self, id: ObjId) -> Rc<str> {
        match self.get_mut(id) {
            Obj::Str(s) => s.share(),
            other => mismatch("str", other),
        }
    }

    #[inline]
    pub fn list(&self, id: ObjId) -> &Vec<Value> {
        match self.get(id) {
            Obj::List(l) => l,
            other => mismatch("list", other),
        }
    }

    /// The items of list `id` to change in any way; the collector reads them all at its
    /// next pass. `list_obj_mut` writes a value without that.
    #[inline]
    pub fn list_mut(&mut self, id: ObjId) -> &mut Vec<Value> {
        self.list_obj_mut(id).items_mut()
    }

    #[inline]
    pub fn list_obj_mut(&mut self, id: ObjId) -> &mut ListObj {
        match self.get_mut(id) {
            Obj::List(l) => l,
            other => mismatch("list", other),
        }
    }

    #[inline]
    pub fn map(&self, id: ObjId) -> &MapObj {
        match self.get(id) {
            Obj::Map(m) => m,
            other => mismatch("map", other),
        }
    }

    #[inline]
    pub fn map_mut(&mut self, id: ObjId) -> &mut MapObj {
        match self.get_mut(id) {
            Obj::Map(m) => m,
            other => mismatch("map", other),
        }
    }

    #[inline]
    pub fn closure(&self, id: ObjId) -> &Closure {
        match self.get(id) {
            Obj::Func(c) => c,
            other => mismatch("fn", other),
        }
    }

    #[inline]
    pub fn cell(&self, id: ObjId) -> Value {
        match self.get(id) {
            Obj::Cell(v) => *v,
            other => mismatch("cell", other),
        }
    }

    #[inline]
    pub fn set_cell(&mut self, id: ObjId, v: Value) {
        match self.get_mut(id) {
            Obj::Cell(slot) => *slot = v,
            other => mismatch("cell", other),
        }
    }

    pub fn error(&self, id: ObjId) -> Option<&ErrorObj> {
        match self.get(id) {
            Obj::Error(e) => Some(e),
            _ => None,
        }
    }

    /// Marks everything reachable from `roots` and the pinned objects, frees the rest.
    /// Iterative, so a list nested a million deep cannot overflow the Rust stack.
    ///
    /// `at_check_point`: nothing outside the roots holds a value (a check point); the
    /// objects allocated since the last such collection are then no longer kept for their
    /// own sake. Otherwise (a reservation inside a builtin) they are kept, as roots.
    pub fn collect(&mut self, roots: impl IntoIterator<Item = Value>, at_check_point: bool) {
        let mut marks = vec![false; self.objs.len()];
        let mut work: Vec<ObjId> = self.pinned.clone();
        if at_check_point {
            self.young.clear();
        } else {
            work.extend(self.young.iter().map(|&i| ObjId::new(i)));
        }
        work.extend(roots.into_iter().filter_map(Value::obj_id));
        while let Some(id) = work.pop() {
            let i = id.index();
            if i >= marks.len() || marks[i] {
                continue;
            }
            marks[i] = true;
            if let Obj::List(items) = &self.objs[i]
                && !items.may_hold_objects()
            {
                // Numbers only: nothing to mark, and nothing to read.
                continue;
            }
            let mut found_objects = false;
            self.objs[i].trace(|v| match v {
                // A string holds no values: marked here, it need not be visited (a list of
                // a million strings would push and pop each one).
                Value::Str(child) => {
                    found_objects = true;
                    marks[child.index()] = true;
                }
                _ => {
                    if let Some(child) = v.obj_id() {
                        found_objects = true;
                        if !marks[child.index()] {
                            work.push(child);
                        }
                    }
                }
            });
            if !found_objects && let Obj::List(items) = &mut self.objs[i] {
                items.found_no_objects();
            }
        }
        // Trailing unreachable slots shrink the arena instead of sitting on the free list.
        let len = marks.iter().rposition(|&m| m).map_or(0, |i| i + 1);
        self.objs.truncate(len);
        // One pass, high to low, so the free list needs no sorting: `alloc` pops the lowest
        // free slot first, keeping live objects packed at the start of the arena.
        self.free_head = NO_SLOT;
        self.free_len = 0;
        let mut live_bytes = 0;
        for i in (0..len).rev() {
            if marks[i] {
                live_bytes += approx_size(&self.objs[i]);
            } else {
                self.objs[i] = Obj::Free(self.free_head);
                self.free_head = i as u32;
                self.free_len += 1;
            }
        }
        // The next collection comes once half as many objects as survived this one have been
        // allocated (`PACE_DIVISOR`), or half as many bytes: whatever the program throws
        // away, a heap of live data L peaks near 1.5 L. A growing buffer waits for a
        // collection sooner (`growth_pace`).
        let live = self.live_objects();
        let capacity = self.objs.capacity();
        if std::mem::take(&mut self.arena_asked) && capacity - live.min(capacity) < capacity / 8 {
            // The live objects nearly fill the arena: let it grow rather than collect again
            // for the few slots the dead could free.
            self.arena_full_at = capacity;
        }
        self.arena_trigger = if capacity == self.arena_full_at {
            usize::MAX
        } else {
            arena_trigger(capacity)
        };
        self.allocs_since_gc = 0;
        self.next_gc = (live / PACE_DIVISOR).max(MIN_GC_THRESHOLD);
        self.bytes_since_gc = 0;
        self.collect_first_waived = false;
        self.live_bytes = live_bytes;
        self.set_triggers();
        self.breaker.fetch_and(!BREAK_GC, Ordering::Relaxed);
        self.collections += 1;
    }
}

/// Appends `piece` to the buffer of a string being built, doubling it when it is full (a
/// loop of `+=` stays linear); returns the bytes it grew by. Fails, having changed
/// nothing, when the growth would pass `room` or cannot be had.
fn push_piece(b: &mut String, piece: &str, room: usize) -> Result<usize, GrowError> {
    let before = b.capacity();
    if b.len() + piece.len() > before {
        let more = piece.len().max(before);
        if more > room {
            return Err(GrowError::OverLimit(more));
        }
        b.try_reserve(more).map_err(|_| GrowError::Failed(more))?;
    }
    b.push_str(piece);
    Ok(b.capacity() - before)
}

/// String equality that skips the byte comparison when both are the same text in memory
/// (a field name and a key made from the same literal; see the compiler's `strings`).
/// Bytes, not `str`: taking the `str` of a string kept in its slot checks it for UTF-8.
#[inline]
fn same_text(a: &str, b: &[u8]) -> bool {
    std::ptr::eq(a.as_bytes(), b) || a.as_bytes() == b
}

#[cold]
#[inline(never)]
fn mismatch(want: &str, got: &Obj) -> ! {
    // A tagged Value always names an object of its tag's type; reaching this is a VM bug.
    panic!("heap type confusion: expected {want}, found {}", got.type_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heap() -> Heap {
        Heap::new(Arc::new(AtomicU32::new(0)))
    }

    fn gc_asked(h: &Heap) -> bool {
        h.breaker.load(Ordering::Relaxed) & BREAK_GC != 0
    }

    /// A list holding 64 MB of buffer survives a collection: a growth waits for the next
    /// collection once a quarter of that (16 MB) would have been charged, while the check
    /// points are asked to collect only after half (32 MB).
    #[test]
    fn growths_are_paced_by_a_quarter_of_the_live_buffers() {
        let mut h = heap();
        let big = h.new_list(Vec::with_capacity((64 << 20) / ITEM_BYTES));
        h.collect([big], true);
        h.charge(1 << 20);
        assert_eq!(h.room_for(14 << 20), Ok(()));
        assert_eq!(h.room_for(16 << 20), Err(GrowError::CollectFirst(16 << 20)));
        h.charge(30 << 20);
        assert!(!gc_asked(&h), "asked before half the live bytes");
        h.charge(2 << 20);
        assert!(gc_asked(&h), "not asked after half the live bytes");
    }

    /// `n` short strings (kept in their slots: no buffer of their own).
    fn strings(h: &mut Heap, n: usize) -> Vec<Value> {
        (0..n).map(|i| h.new_str(format!("s{i}"))).collect()
    }

    /// Objects that died since the last collection leave their slots to the next ones: an
    /// arena holding 200,000 live strings, which then all die, asks for a collection just
    /// before it would reallocate, and after it the next 200,000 fit without growing.
    #[test]
    fn a_full_arena_asks_to_collect_before_it_grows() {
        let mut h = heap();
        let first = strings(&mut h, 200_000);
        h.collect(first, true);
        let capacity = h.objs.capacity();
        assert!(!gc_asked(&h));
        let mut made = 0;
        while !gc_asked(&h) {
            assert!(made < capacity, "the arena never asked");
            h.new_str("next");
            made += 1;
        }
        assert_eq!(h.objs.capacity(), capacity, "the arena grew before asking");
        h.collect([], true);
        strings(&mut h, 200_000);
        assert_eq!(h.objs.capacity(), capacity, "the arena grew though the dead left room");
    }

    /// When asking freed too little (the live objects fill the arena), the arena grows
    /// without asking again at that size: no collection for every few slots.
    #[test]
    fn an_arena_full_of_live_objects_grows_without_asking_again() {
        let mut h = heap();
        let mut live = strings(&mut h, 200_000);
        h.collect(live.iter().copied(), true);
        let capacity = h.objs.capacity();
        while !gc_asked(&h) {
            live.push(h.new_str("kept"));
        }
        h.collect(live.iter().copied(), true);
        live.extend(strings(&mut h, 10_000));
        assert!(!gc_asked(&h), "asked again at the same size");
        assert!(h.objs.capacity() > capacity, "the arena did not grow");
    }

    /// A free slot was paid for when the arena grew into it: 100,000 short strings made
    /// in the slots 199,999 dead ones left do not bring a collection nearer, where as many
    /// new slots would have asked for one after 65,536.
    #[test]
    fn reusing_free_slots_does_not_ask_to_collect() {
        let mut h = heap();
        let first = strings(&mut h, 200_000);
        let last = *first.last().expect("strings");
        h.collect([last], true);
        assert_eq!(h.live_objects(), 1);
        strings(&mut h, 100_000);
        assert!(!gc_asked(&h), "reused slots asked for a collection");
        let mut fresh = heap();
        strings(&mut fresh, 100_000);
        assert!(gc_asked(&fresh), "new slots did not ask for a collection");
    }

    /// A big allocation that would pass the pacing trigger waits for the collection that is
    /// due (the dead list is freed first); right after a collection it may go ahead.
    #[test]
    fn room_for_asks_to_collect_first_and_the_collection_frees_the_dead() {
        let mut h = heap();
        h.new_list(Vec::with_capacity((4 << 20) / ITEM_BYTES));
        assert_eq!(h.room_for(5 << 20), Err(GrowError::CollectFirst(5 << 20)));
        h.collect([], true);
        assert_eq!((h.live_objects(), h.accounted()), (0, 0), "the dead list was not freed");
        assert_eq!(h.room_for(5 << 20), Ok(()));
        h.set_max_bytes(Some(1 << 20));
        assert_eq!(h.room_for(5 << 20), Err(GrowError::OverLimit(5 << 20)));
    }
}
