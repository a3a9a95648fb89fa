//! The `--gil-trace` format and recording: the events the lock logs per thread, and the
//! names, phases and argument keys of the Chrome trace-event JSON they are written as
//! (`trace_json.rs` writes it). The constants below are the only spelling of the format;
//! `toy timeline` reads traces back through them, so the writer and the reader cannot
//! drift apart. Invariant: every event's times are offsets from the lock's creation, and
//! no slice has a negative duration.

use std::time::Duration;

use super::thread_id::ThreadId;

/// The `name` of each kind of event in the trace.
pub mod event {
    /// A slice (phase [`COMPLETE`](super::phase::COMPLETE)) in which the thread held the
    /// GIL; `args.end` says why it ended.
    pub const RUNNING: &str = "running";
    /// A slice in which the thread waited to take the GIL.
    pub const WAITING: &str = "waiting for GIL";
    /// An instant at which the thread asked the holder (`args.holder`, 0 for none) to drop.
    pub const DROP_REQUEST: &str = "drop request";
    /// An instant at which the thread moved from CPU `args.from` (-1 if unknown) to CPU
    /// `args.to`, where the holder it took the GIL from had run.
    pub const CPU_MOVE: &str = "cpu move";
    /// Metadata: the process's name (`args.name`).
    pub const PROCESS_NAME: &str = "process_name";
    /// Metadata: a thread's track name (`args.name`).
    pub const THREAD_NAME: &str = "thread_name";
    /// Metadata: a thread's track position (`args.sort_index`).
    pub const THREAD_SORT_INDEX: &str = "thread_sort_index";
}

/// The `ph` (phase) of each kind of event.
pub mod phase {
    /// A slice with a start `ts` and a duration `dur`.
    pub const COMPLETE: &str = "X";
    /// A moment `ts`, scoped to its thread (`"s":"t"`).
    pub const INSTANT: &str = "i";
    /// Names and sort order of the tracks; no time.
    pub const METADATA: &str = "M";
}

/// The keys inside an event's `args`.
pub mod arg {
    /// Of [`RUNNING`](super::event::RUNNING): why the slice ended.
    pub const END: &str = "end";
    /// Of [`DROP_REQUEST`](super::event::DROP_REQUEST): the thread asked to drop.
    pub const HOLDER: &str = "holder";
    /// Of [`CPU_MOVE`](super::event::CPU_MOVE): the CPU left.
    pub const FROM: &str = "from";
    /// Of [`CPU_MOVE`](super::event::CPU_MOVE): the CPU moved to.
    pub const TO: &str = "to";
    /// Of [`PROCESS_NAME`](super::event::PROCESS_NAME) and
    /// [`THREAD_NAME`](super::event::THREAD_NAME): the name.
    pub const NAME: &str = "name";
    /// Of [`THREAD_SORT_INDEX`](super::event::THREAD_SORT_INDEX): the position.
    pub const SORT_INDEX: &str = "sort_index";
}

/// Why a "running" slice ended, for the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum End {
    Released,
    Blocking,
    Forced,
    StillRunning,
}

impl End {
    pub(super) fn label(self) -> &'static str {
        match self {
            End::Released => "released",
            End::Blocking => "blocking call",
            End::Forced => "forced drop",
            End::StillRunning => "still running",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) enum EventKind {
    Running(End),
    Waiting,
    DropRequest { holder: Option<ThreadId> },
    CpuMove { from: Option<u32>, to: u32 },
}

/// One trace event; times are offsets from the lock's creation.
#[derive(Clone, Copy, Debug)]
pub(super) struct Event {
    pub(super) kind: EventKind,
    pub(super) start: Duration,
    pub(super) end: Duration,
}
