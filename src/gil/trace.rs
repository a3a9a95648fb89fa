//! The `--gil-trace` recording: the events the lock logs per thread and the Chrome
//! trace-event JSON they are written as. This file owns the trace format: the event
//! names, phases and argument keys below are the only spelling of it, and `toy timeline`
//! reads traces back through the same constants, so the writer and the reader cannot
//! drift apart. Its invariant: every event's times are offsets from the lock's creation,
//! no slice has a negative duration, and each thread's events are written in the order
//! that thread recorded them (which is time order within each kind of event).

use std::fmt;
use std::io::{self, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Gil, ThreadId};

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
    fn label(self) -> &'static str {
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

impl<T> Gil<T> {
    /// The recorded events as Chrome trace-event JSON (open it in Perfetto): one track per
    /// thread, [`event::RUNNING`] and [`event::WAITING`] slices, [`event::DROP_REQUEST`]
    /// and [`event::CPU_MOVE`] instants, times in microseconds since the lock was created,
    /// one event per line. Without tracing, only the track names.
    pub fn trace_json(&self) -> String {
        let mut out = Vec::new();
        self.write_trace_to(&mut out).expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("the trace is ASCII but for thread names, which are UTF-8")
    }

    /// Write [`Gil::trace_json`] to `path`.
    pub fn write_trace(&self, path: &Path) -> io::Result<()> {
        let mut file = io::BufWriter::new(std::fs::File::create(path)?);
        self.write_trace_to(&mut file)?;
        file.flush()
    }

    /// Every thread's events, copied under the lock (formatting happens outside it), with
    /// the slices still open at this moment closed now.
    fn tracks(&self) -> Vec<(ThreadId, Vec<Event>)> {
        let now_off = self.since_creation(Instant::now());
        let st = self.lock_state();
        let mut tracks = Vec::new();
        for (index, rec) in st.threads.iter().enumerate() {
            let Some(rec) = rec else { continue };
            let mut events = rec.events.clone();
            if self.trace {
                if let Some(since) = rec.held_since {
                    events.push(Event {
                        kind: EventKind::Running(End::StillRunning),
                        start: self.since_creation(since),
                        end: now_off,
                    });
                }
                if let Some(since) = rec.waiting_since {
                    events.push(Event {
                        kind: EventKind::Waiting,
                        start: self.since_creation(since),
                        end: now_off,
                    });
                }
            }
            tracks.push((ThreadId(index as u32 + 1), events));
        }
        tracks
    }

    fn write_trace_to(&self, out: &mut impl io::Write) -> io::Result<()> {
        use self::arg::{END, FROM, HOLDER, NAME, SORT_INDEX, TO};
        use self::event::{CPU_MOVE, DROP_REQUEST, PROCESS_NAME, RUNNING, THREAD_NAME, THREAD_SORT_INDEX, WAITING};
        use self::phase::{COMPLETE, INSTANT, METADATA};
        let tracks = self.tracks();
        write!(
            out,
            "{{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n\
             {{\"name\":\"{PROCESS_NAME}\",\"ph\":\"{METADATA}\",\"pid\":1,\"args\":{{\"{NAME}\":\"toy\"}}}}"
        )?;
        for (tid, _) in &tracks {
            let main = if *tid == ThreadId::MAIN { " (main)" } else { "" };
            write!(
                out,
                ",\n{{\"name\":\"{THREAD_NAME}\",\"ph\":\"{METADATA}\",\"pid\":1,\"tid\":{tid},\
                 \"args\":{{\"{NAME}\":\"thread {tid}{main}\"}}}}\
                 ,\n{{\"name\":\"{THREAD_SORT_INDEX}\",\"ph\":\"{METADATA}\",\"pid\":1,\"tid\":{tid},\
                 \"args\":{{\"{SORT_INDEX}\":{tid}}}}}"
            )?;
        }
        for (tid, events) in &tracks {
            for event in events {
                let ts = Micros(event.start);
                let dur = Micros(event.end.saturating_sub(event.start));
                match event.kind {
                    EventKind::Running(end) => write!(
                        out,
                        ",\n{{\"name\":\"{RUNNING}\",\"cat\":\"gil\",\"ph\":\"{COMPLETE}\",\"pid\":1,\
                         \"tid\":{tid},\"ts\":{ts},\"dur\":{dur},\"args\":{{\"{END}\":\"{}\"}}}}",
                        end.label()
                    ),
                    EventKind::Waiting => write!(
                        out,
                        ",\n{{\"name\":\"{WAITING}\",\"cat\":\"gil\",\"ph\":\"{COMPLETE}\",\
                         \"pid\":1,\"tid\":{tid},\"ts\":{ts},\"dur\":{dur}}}"
                    ),
                    EventKind::DropRequest { holder } => write!(
                        out,
                        ",\n{{\"name\":\"{DROP_REQUEST}\",\"cat\":\"gil\",\"ph\":\"{INSTANT}\",\"s\":\"t\",\
                         \"pid\":1,\"tid\":{tid},\"ts\":{ts},\"args\":{{\"{HOLDER}\":{}}}}}",
                        holder.map_or(0, ThreadId::get)
                    ),
                    EventKind::CpuMove { from, to } => write!(
                        out,
                        ",\n{{\"name\":\"{CPU_MOVE}\",\"cat\":\"gil\",\"ph\":\"{INSTANT}\",\"s\":\"t\",\
                         \"pid\":1,\"tid\":{tid},\"ts\":{ts},\"args\":{{\"{FROM}\":{},\"{TO}\":{to}}}}}",
                        from.map_or(-1, i64::from)
                    ),
                }?;
            }
        }
        out.write_all(b"\n]}\n")
    }
}

/// A duration printed as microseconds with three decimals (nanosecond precision).
struct Micros(Duration);

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.0.as_micros(), self.0.subsec_nanos() % 1000)
    }
}
