//! Folding a trace's events into what the drawing needs, in two passes over the stream,
//! so memory is bounded by the drawing rather than by the file:
//!
//! 1. [`Outline`] checks the trace as a whole and learns, per thread, its name, its
//!    lifetime, its totals and counts, and whether its events come in time order. The
//!    time axis, and so the pixel grid, follows from the lifetimes.
//! 2. [`Gather`] folds each thread's slices into the shapes of that grid as they stream by
//!    ([`Merger`], [`Sweep`], [`Columns`]): a few per pixel column, however many events.
//!
//! The invariant: the shapes are exactly those the drawing rules define over the thread's
//! events sorted by time (slices by start then end, instants by time; ties in file order).
//! Events that arrive in that order, as toy writes them, are folded as they come; a thread
//! whose events do not (a hand-edited or merged trace) has its events kept and sorted
//! before folding, costing memory in proportion to that thread's events.

use std::collections::BTreeMap;

use super::read::{Document, RawEvent, Scalar, Shape, Sink};
use super::scale::{Ns, Scale};
use crate::gil::trace::event::{CPU_MOVE, DROP_REQUEST, RUNNING, THREAD_NAME, THREAD_SORT_INDEX, WAITING};
use crate::gil::trace::phase;

/// Chrome's older spelling of an instant's phase; toy writes [`phase::INSTANT`], other
/// tools may write this.
const LEGACY_INSTANT: &str = "I";

/// Microseconds (a JSON number) to whole nanoseconds.
fn ns(v: &Scalar) -> Option<Ns> {
    let us = v.num()?.as_f64();
    us.is_finite().then(|| (us * 1000.0).round() as Ns)
}

/// A running or waiting slice.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Slice {
    pub(super) start: Ns,
    pub(super) end: Ns,
    /// Why a running slice ended (`args.end`), when the trace says.
    pub(super) reason: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SliceKind {
    Running,
    Waiting,
}

/// What one event of the trace means for the drawing.
enum Item {
    Name {
        tid: u64,
        name: Option<String>,
    },
    Sort {
        tid: u64,
        sort: Option<i64>,
    },
    Slice {
        tid: u64,
        kind: SliceKind,
        slice: Slice,
    },
    /// A drop request (`holder`: the thread asked, if any) or a CPU move (`to`: the CPU).
    Instant {
        tid: u64,
        kind: InstantKind,
        at: Ns,
        attribute: Option<u64>,
    },
    /// Another tool's event, or toy's process name: nothing to draw.
    Ignored,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InstantKind {
    DropRequest,
    CpuMove,
}

impl Item {
    /// Whether it is one of toy's own events (the check that a file is a toy trace).
    fn is_toys(&self) -> bool {
        !matches!(self, Item::Sort { .. } | Item::Ignored)
    }
}

/// Read one event. `Err(name)`: one of toy's events without the numbers it needs.
fn classify(event: RawEvent) -> Result<Item, &'static str> {
    let ph = event.ph.str().unwrap_or("");
    let name = event.name.str().unwrap_or("");
    let tid = event.tid.num().and_then(|n| n.as_u64());
    let args = event.args;
    Ok(match (ph, name) {
        (phase::METADATA, THREAD_NAME) => Item::Name {
            tid: tid.ok_or(THREAD_NAME)?,
            name: args.name.into_string(),
        },
        (phase::METADATA, THREAD_SORT_INDEX) => Item::Sort {
            tid: tid.ok_or(THREAD_SORT_INDEX)?,
            sort: args.sort_index.num().and_then(|n| n.as_i64()),
        },
        (phase::COMPLETE, RUNNING | WAITING) => {
            let name = if name == RUNNING { RUNNING } else { WAITING };
            let (Some(tid), Some(start), Some(dur)) = (tid, ns(&event.ts), ns(&event.dur)) else {
                return Err(name);
            };
            if dur < 0 {
                return Err(name);
            }
            let (kind, reason) = if name == RUNNING {
                (SliceKind::Running, args.end.into_string())
            } else {
                (SliceKind::Waiting, None)
            };
            Item::Slice {
                tid,
                kind,
                slice: Slice {
                    start,
                    end: start.wrapping_add(dur),
                    reason,
                },
            }
        }
        (phase::INSTANT | LEGACY_INSTANT, DROP_REQUEST | CPU_MOVE) => {
            let (kind, name) = if name == DROP_REQUEST {
                (InstantKind::DropRequest, DROP_REQUEST)
            } else {
                (InstantKind::CpuMove, CPU_MOVE)
            };
            let (Some(tid), Some(at)) = (tid, ns(&event.ts)) else {
                return Err(name);
            };
            let attribute = match kind {
                // The GIL writes holder 0 when nobody held it at that moment.
                InstantKind::DropRequest => args.holder.num().and_then(|n| n.as_u64()).filter(|&h| h != 0),
                InstantKind::CpuMove => args.to.num().and_then(|n| n.as_u64()),
            };
            Item::Instant {
                tid,
                kind,
                at,
                attribute,
            }
        }
        _ => Item::Ignored,
    })
}

// ---------------------------------------------------------------------------------------
// Pass 1

/// What pass 1 learns about one thread.
#[derive(Clone, Debug)]
pub(super) struct LaneOutline {
    pub(super) tid: u64,
    pub(super) name: String,
    sort: i64,
    pub(super) running: usize,
    pub(super) waiting: usize,
    pub(super) drops: usize,
    pub(super) moves: usize,
    /// First and last instant the trace saw this thread, if it saw it at all.
    pub(super) lifetime: Option<(Ns, Ns)>,
    /// Total time in running and in waiting slices.
    pub(super) ran: Ns,
    pub(super) waited: Ns,
    /// Whether its events came in time order, so pass 2 can fold them as they come.
    pub(super) in_order: bool,
    last_slice: Option<(Ns, Ns)>,
    last_instant: [Option<Ns>; 2],
}

impl LaneOutline {
    /// A thread named as toy names threads until a `thread_name` event says more.
    fn new(tid: u64) -> LaneOutline {
        LaneOutline {
            tid,
            name: format!("thread {tid}"),
            sort: i64::try_from(tid).unwrap_or(i64::MAX),
            running: 0,
            waiting: 0,
            drops: 0,
            moves: 0,
            lifetime: None,
            ran: 0,
            waited: 0,
            in_order: true,
            last_slice: None,
            last_instant: [None; 2],
        }
    }

    fn see(&mut self, first: Ns, last: Ns) {
        self.lifetime = Some(match self.lifetime {
            Some((f, l)) => (f.min(first), l.max(last)),
            None => (first, last),
        });
    }

    fn slice(&mut self, kind: SliceKind, slice: &Slice) {
        let (start, end) = (slice.start, slice.end);
        let duration = end.wrapping_sub(start);
        match kind {
            SliceKind::Running => {
                self.running += 1;
                self.ran = self.ran.wrapping_add(duration);
            }
            SliceKind::Waiting => {
                self.waiting += 1;
                self.waited = self.waited.wrapping_add(duration);
            }
        }
        self.see(start, end);
        // Running and waiting slices together, so the gaps between them can be found in
        // one sweep too.
        if self.last_slice.is_some_and(|last| (start, end) < last) {
            self.in_order = false;
        }
        self.last_slice = Some((start, end));
    }

    fn instant(&mut self, kind: InstantKind, at: Ns) {
        match kind {
            InstantKind::DropRequest => self.drops += 1,
            InstantKind::CpuMove => self.moves += 1,
        }
        self.see(at, at);
        let last = &mut self.last_instant[kind as usize];
        if last.is_some_and(|l| at < l) {
            self.in_order = false;
        }
        *last = Some(at);
    }
}

/// Pass 1: the trace checked, and what each thread's lane will hold. Only the last
/// `traceEvents` list counts, so each one starts afresh.
#[derive(Debug, Default)]
pub(super) struct Outline {
    lanes: BTreeMap<u64, LaneOutline>,
    /// Events of toy's own kinds.
    ours: usize,
    /// Some event was not metadata.
    timed: bool,
    error: Option<TraceError>,
}

impl Sink for Outline {
    fn list(&mut self, _occurrence: usize) -> bool {
        *self = Outline::default();
        true
    }

    fn event(&mut self, index: usize, event: RawEvent) {
        if self.error.is_some() {
            return; // the first error is the one reported
        }
        if event.ph.str() != Some(phase::METADATA) {
            self.timed = true;
        }
        let item = match classify(event) {
            Ok(item) => item,
            Err(name) => {
                self.error = Some(TraceError::Malformed {
                    index,
                    name: name.to_owned(),
                });
                return;
            }
        };
        if item.is_toys() {
            self.ours += 1;
        }
        match item {
            Item::Name { tid, name } => {
                if let Some(name) = name {
                    self.lanes.entry(tid).or_insert_with(|| LaneOutline::new(tid)).name = name;
                }
            }
            Item::Sort { tid, sort } => {
                if let Some(sort) = sort {
                    self.lanes.entry(tid).or_insert_with(|| LaneOutline::new(tid)).sort = sort;
                }
            }
            Item::Slice { tid, kind, slice } => {
                self.lanes
                    .entry(tid)
                    .or_insert_with(|| LaneOutline::new(tid))
                    .slice(kind, &slice);
            }
            Item::Instant { tid, kind, at, .. } => {
                self.lanes
                    .entry(tid)
                    .or_insert_with(|| LaneOutline::new(tid))
                    .instant(kind, at);
            }
            Item::Ignored => {}
        }
    }
}

/// The trace as pass 1 found it, ready to draw the frame and to guide pass 2.
#[derive(Debug)]
pub(super) struct Checked {
    pub(super) script: Option<String>,
    /// Which `traceEvents` list holds the events.
    occurrence: usize,
    /// Sorted by `thread_sort_index`, then id.
    pub(super) lanes: Vec<LaneOutline>,
}

impl Outline {
    /// The verdict on the whole document, in the order the checks were always made.
    pub(super) fn finish(self, document: Document) -> Result<Checked, TraceError> {
        let occurrence = match document.shape {
            Shape::Listed { occurrence } => occurrence,
            Shape::NoList => return Err(TraceError::NotToy("it has no \"traceEvents\" list")),
            Shape::Neither => {
                return Err(TraceError::NotToy(
                    "it is neither a trace-event object nor a list of events",
                ));
            }
        };
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.ours == 0 && self.timed {
            return Err(TraceError::NoToyEvents);
        }
        if self.lanes.values().all(|l| l.running == 0 && l.waiting == 0) {
            return Err(TraceError::Empty);
        }
        let mut lanes: Vec<LaneOutline> = self.lanes.into_values().collect();
        lanes.sort_by_key(|l| (l.sort, l.tid));
        Ok(Checked {
            script: document.script,
            occurrence,
            lanes,
        })
    }
}

impl Checked {
    /// From the GIL's creation to the trace's last event.
    pub(super) fn end(&self) -> Ns {
        self.lanes
            .iter()
            .filter_map(|l| l.lifetime)
            .map(|(_, last)| last)
            .max()
            .unwrap_or(0)
    }

    /// The earliest event, or 0 if that is earlier.
    pub(super) fn start(&self) -> Ns {
        self.lanes
            .iter()
            .filter_map(|l| l.lifetime)
            .map(|(first, _)| first)
            .min()
            .unwrap_or(0)
            .min(0)
    }
}

// ---------------------------------------------------------------------------------------
// Pass 2

/// One drawn shape: a slice, or several within one pixel.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Group {
    pub(super) start: Ns,
    pub(super) end: Ns,
    /// Time actually in this state inside `start..end`.
    pub(super) busy: Ns,
    pub(super) n: usize,
    /// The first slice's reason for ending (running slices only).
    pub(super) reason: Option<String>,
}

/// Merges consecutive slices (fed sorted by start, then end) while the group spans at most
/// one pixel (`ns_per_px`). Every second group starts at least a pixel later than the one
/// before, so a lane never gets more than about two shapes per state per pixel column.
#[derive(Debug, Default)]
pub(super) struct Merger {
    pub(super) groups: Vec<Group>,
}

impl Merger {
    pub(super) fn push(&mut self, slice: Slice, ns_per_px: Ns) {
        let Slice { start, end, reason } = slice;
        let busy = end.wrapping_sub(start);
        if let Some(g) = self.groups.last_mut()
            && end.max(g.end).wrapping_sub(g.start) <= ns_per_px
        {
            g.end = g.end.max(end);
            g.busy = g.busy.wrapping_add(busy);
            g.n += 1;
            return;
        }
        self.groups.push(Group {
            start,
            end,
            busy,
            n: 1,
            reason,
        });
    }
}

/// Finds the blocked time of a lane, the gaps in its lifetime where it neither ran nor
/// waited (it had released the GIL: sleep, I/O, join, native code), from its running and
/// waiting slices fed together sorted by start, then end; and merges the gaps like slices.
#[derive(Debug)]
struct Sweep {
    cursor: Ns,
    gaps: Merger,
    blocked: Ns,
}

impl Sweep {
    fn new(first: Ns) -> Sweep {
        Sweep {
            cursor: first,
            gaps: Merger::default(),
            blocked: 0,
        }
    }

    fn gap(&mut self, start: Ns, end: Ns, ns_per_px: Ns) {
        self.blocked = self.blocked.wrapping_add(end.wrapping_sub(start));
        let reason = None;
        self.gaps.push(Slice { start, end, reason }, ns_per_px);
    }

    fn push(&mut self, start: Ns, end: Ns, ns_per_px: Ns) {
        if start > self.cursor {
            self.gap(self.cursor, start, ns_per_px);
        }
        self.cursor = self.cursor.max(end);
    }

    fn finish(mut self, last: Ns, ns_per_px: Ns) -> (Vec<Group>, Ns) {
        if last > self.cursor {
            self.gap(self.cursor, last, ns_per_px);
        }
        (self.gaps.groups, self.blocked)
    }
}

/// The instants of one pixel column: the first one's time, how many, and the attribute
/// (holder, CPU) they all share, if they do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Column {
    pub(super) first: Ns,
    pub(super) n: usize,
    pub(super) shared: Option<u64>,
}

/// Groups instants (fed sorted by time) by pixel column.
#[derive(Debug, Default)]
struct Columns {
    columns: Vec<Column>,
}

impl Columns {
    fn push(&mut self, at: Ns, attribute: Option<u64>, scale: &Scale) {
        if let Some(c) = self.columns.last_mut()
            && scale.column(c.first) == scale.column(at)
        {
            c.n += 1;
            if c.shared != attribute {
                c.shared = None;
            }
            return;
        }
        self.columns.push(Column {
            first: at,
            n: 1,
            shared: attribute,
        });
    }
}

/// Everything drawn on one lane.
#[derive(Debug)]
pub(super) struct LaneDrawing {
    pub(super) running: Vec<Group>,
    pub(super) waiting: Vec<Group>,
    pub(super) blocked: Vec<Group>,
    /// Total blocked time.
    pub(super) idle: Ns,
    pub(super) drops: Vec<Column>,
    pub(super) moves: Vec<Column>,
}

/// One lane being folded: shapes so far, in time order.
#[derive(Debug)]
struct Fold {
    running: Merger,
    waiting: Merger,
    sweep: Sweep,
    instants: [Columns; 2],
}

impl Fold {
    fn new(lifetime: Option<(Ns, Ns)>) -> Fold {
        Fold {
            running: Merger::default(),
            waiting: Merger::default(),
            sweep: Sweep::new(lifetime.map_or(0, |(first, _)| first)),
            instants: [Columns::default(), Columns::default()],
        }
    }

    fn slice(&mut self, kind: SliceKind, slice: Slice, scale: &Scale) {
        self.sweep.push(slice.start, slice.end, scale.ns_per_px);
        match kind {
            SliceKind::Running => self.running.push(slice, scale.ns_per_px),
            SliceKind::Waiting => self.waiting.push(slice, scale.ns_per_px),
        }
    }

    fn instant(&mut self, kind: InstantKind, at: Ns, attribute: Option<u64>, scale: &Scale) {
        self.instants[kind as usize].push(at, attribute, scale);
    }

    fn finish(self, lifetime: Option<(Ns, Ns)>, scale: &Scale) -> LaneDrawing {
        let [drops, moves] = self.instants;
        let (blocked, idle) = match lifetime {
            Some((_, last)) => self.sweep.finish(last, scale.ns_per_px),
            None => (Vec::new(), 0),
        };
        LaneDrawing {
            running: self.running.groups,
            waiting: self.waiting.groups,
            blocked,
            idle,
            drops: drops.columns,
            moves: moves.columns,
        }
    }
}

/// A lane whose events came out of order: kept until the end, then sorted and folded.
#[derive(Debug, Default)]
struct Held {
    slices: [Vec<Slice>; 2],
    instants: [Vec<(Ns, Option<u64>)>; 2],
}

impl Held {
    fn fold(self, lifetime: Option<(Ns, Ns)>, scale: &Scale) -> LaneDrawing {
        let Held {
            slices: [mut running, mut waiting],
            instants: [mut drops, mut moves],
        } = self;
        // Stable sorts: ties keep file order, which decides whose reason a group shows.
        running.sort_by_key(|s| (s.start, s.end));
        waiting.sort_by_key(|s| (s.start, s.end));
        drops.sort_by_key(|&(at, _)| at);
        moves.sort_by_key(|&(at, _)| at);
        let mut fold = Fold::new(lifetime);
        let mut busy: Vec<(Ns, Ns)> = running.iter().chain(&waiting).map(|s| (s.start, s.end)).collect();
        busy.sort_unstable();
        for (start, end) in busy {
            fold.sweep.push(start, end, scale.ns_per_px);
        }
        for slice in running {
            fold.running.push(slice, scale.ns_per_px);
        }
        for slice in waiting {
            fold.waiting.push(slice, scale.ns_per_px);
        }
        for (at, attribute) in drops {
            fold.instant(InstantKind::DropRequest, at, attribute, scale);
        }
        for (at, attribute) in moves {
            fold.instant(InstantKind::CpuMove, at, attribute, scale);
        }
        fold.finish(lifetime, scale)
    }
}

#[derive(Debug)]
enum Folding {
    AsTheyCome(Fold),
    Held(Held),
}

/// Pass 2: each lane's shapes on the pixel grid `scale`, from the same events pass 1
/// checked. `changed` records any sign that the input differs from what pass 1 read.
pub(super) struct Gather<'c> {
    checked: &'c Checked,
    scale: Scale,
    /// Lane index by thread id.
    index: BTreeMap<u64, usize>,
    lanes: Vec<Folding>,
    /// Events folded per lane: running, waiting, drop requests, CPU moves.
    counts: Vec<[usize; 4]>,
    changed: bool,
}

impl<'c> Gather<'c> {
    pub(super) fn new(checked: &'c Checked, scale: Scale) -> Gather<'c> {
        let lanes = checked
            .lanes
            .iter()
            .map(|l| {
                if l.in_order {
                    Folding::AsTheyCome(Fold::new(l.lifetime))
                } else {
                    Folding::Held(Held::default())
                }
            })
            .collect();
        Gather {
            checked,
            scale,
            index: checked.lanes.iter().enumerate().map(|(i, l)| (l.tid, i)).collect(),
            lanes,
            counts: vec![[0; 4]; checked.lanes.len()],
            changed: false,
        }
    }

    /// The lanes' drawings, in lane order; `None` if the input was not what pass 1 read.
    pub(super) fn finish(self) -> Option<Vec<LaneDrawing>> {
        let expected = self
            .checked
            .lanes
            .iter()
            .map(|l| [l.running, l.waiting, l.drops, l.moves]);
        if self.changed || !expected.eq(self.counts.iter().copied()) {
            return None;
        }
        let scale = self.scale;
        Some(
            self.lanes
                .into_iter()
                .zip(&self.checked.lanes)
                .map(|(lane, outline)| match lane {
                    Folding::AsTheyCome(fold) => fold.finish(outline.lifetime, &scale),
                    Folding::Held(held) => held.fold(outline.lifetime, &scale),
                })
                .collect(),
        )
    }
}

impl Sink for Gather<'_> {
    fn list(&mut self, occurrence: usize) -> bool {
        occurrence == self.checked.occurrence
    }

    fn event(&mut self, _index: usize, event: RawEvent) {
        let Ok(item) = classify(event) else {
            self.changed = true;
            return;
        };
        let tid = match item {
            Item::Slice { tid, .. } | Item::Instant { tid, .. } => tid,
            Item::Name { .. } | Item::Sort { .. } | Item::Ignored => return,
        };
        let Some(&lane) = self.index.get(&tid) else {
            self.changed = true;
            return;
        };
        let (folding, counts, scale) = (&mut self.lanes[lane], &mut self.counts[lane], &self.scale);
        match item {
            Item::Slice { kind, slice, .. } => {
                counts[kind as usize] += 1;
                match folding {
                    Folding::AsTheyCome(fold) => fold.slice(kind, slice, scale),
                    Folding::Held(held) => held.slices[kind as usize].push(slice),
                }
            }
            Item::Instant {
                kind, at, attribute, ..
            } => {
                counts[2 + kind as usize] += 1;
                match folding {
                    Folding::AsTheyCome(fold) => fold.instant(kind, at, attribute, scale),
                    Folding::Held(held) => held.instants[kind as usize].push((at, attribute)),
                }
            }
            Item::Name { .. } | Item::Sort { .. } | Item::Ignored => {}
        }
    }
}

/// How to make a trace, for the messages that say a file is not one.
const HOW_TO_TRACE: &str = "make one with `toy run --gil-trace FILE.json SCRIPT`";

/// Why a file cannot be drawn.
#[derive(Debug)]
pub(super) enum TraceError {
    NotJson(String),
    NotToy(&'static str),
    /// Events, but none of toy's.
    NoToyEvents,
    Malformed {
        index: usize,
        name: String,
    },
    Empty,
}

impl TraceError {
    /// The message for the user, about `what` ("the trace" or a path).
    pub(super) fn message(&self, what: &str) -> String {
        match self {
            TraceError::NotJson(e) => format!("{what} is not JSON: {e}"),
            TraceError::NotToy(why) => format!("{what} is not a toy GIL trace: {why}; {HOW_TO_TRACE}"),
            TraceError::NoToyEvents => format!(
                "{what} is not a toy GIL trace: none of its events is a \"{RUNNING}\", \"{WAITING}\" or \
                 \"{DROP_REQUEST}\" event; {HOW_TO_TRACE}"
            ),
            TraceError::Malformed { index, name } => format!(
                "{what} is not a valid toy GIL trace: event {index} (\"{name}\") needs numbers \"tid\" and \"ts\"{}",
                if name == DROP_REQUEST || name == CPU_MOVE {
                    ""
                } else {
                    " and a non-negative \"dur\""
                }
            ),
            TraceError::Empty => {
                format!("{what} is an empty GIL trace: it has no \"{RUNNING}\" or \"{WAITING}\" slices; {HOW_TO_TRACE}")
            }
        }
    }
}
