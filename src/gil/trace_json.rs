//! Writing the `--gil-trace` file: the recorded events as Chrome trace-event JSON, one
//! track per thread, in the format `trace.rs` spells out.
//!
//! Invariant: each thread's events are written in the order that thread recorded them
//! (which is time order within each kind of event), one event per line, so a reader can
//! stream the file.

use std::fmt;
use std::io::{self, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use super::lock::Gil;
use super::thread_id::ThreadId;
use super::trace::{End, Event, EventKind, arg, event, phase};

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
