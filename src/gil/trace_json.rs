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

use super::location::{Location, unnamed};
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
                        kind: EventKind::Running {
                            end: End::StillRunning,
                            reason: None,
                            at: st.holder_at,
                        },
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
        write_trace_start(out)?;
        self.write_trace_process(out, 1, "toy", self.created)?;
        write_trace_end(out)
    }

    /// This lock's tracks as one process of a trace that holds several (one per
    /// interpreter): process `pid` named `name`, its times counted from `origin` (the
    /// first lock's creation) rather than from this lock's. Goes between
    /// [`write_trace_start`] and [`write_trace_end`]; the process with `pid` 1 comes first.
    pub fn write_trace_process(
        &self,
        out: &mut dyn io::Write,
        pid: u32,
        name: &str,
        origin: Instant,
    ) -> io::Result<()> {
        use self::arg::{END, FROM, HOLDER, LINE, NAME, REASON, SORT_INDEX, TO};
        use self::event::{CPU_MOVE, DROP_REQUEST, PROCESS_NAME, RUNNING, THREAD_NAME, THREAD_SORT_INDEX, WAITING};
        use self::phase::{COMPLETE, INSTANT, METADATA};
        let tracks = self.tracks();
        let shift = self.created.saturating_duration_since(origin);
        let first = if pid == 1 { "" } else { ",\n" };
        write!(
            out,
            "{first}{{\"name\":\"{PROCESS_NAME}\",\"ph\":\"{METADATA}\",\"pid\":{pid},\"args\":{{\"{NAME}\":\"{}\"}}}}",
            name.escape_default()
        )?;
        for (tid, _) in &tracks {
            let main = if *tid == ThreadId::MAIN { " (main)" } else { "" };
            write!(
                out,
                ",\n{{\"name\":\"{THREAD_NAME}\",\"ph\":\"{METADATA}\",\"pid\":{pid},\"tid\":{tid},\
                 \"args\":{{\"{NAME}\":\"thread {tid}{main}\"}}}}\
                 ,\n{{\"name\":\"{THREAD_SORT_INDEX}\",\"ph\":\"{METADATA}\",\"pid\":{pid},\"tid\":{tid},\
                 \"args\":{{\"{SORT_INDEX}\":{tid}}}}}"
            )?;
        }
        for (tid, events) in &tracks {
            for event in events {
                let ts = Micros(event.start + shift);
                let dur = Micros(event.end.saturating_sub(event.start));
                match event.kind {
                    EventKind::Running { end, reason, at } => {
                        write!(
                            out,
                            ",\n{{\"name\":\"{RUNNING}\",\"cat\":\"gil\",\"ph\":\"{COMPLETE}\",\"pid\":{pid},\
                             \"tid\":{tid},\"ts\":{ts},\"dur\":{dur},\"args\":{{\"{END}\":\"{}\"",
                            end.label()
                        )?;
                        if let Some(reason) = reason {
                            write!(out, ",\"{REASON}\":\"{reason}\"")?;
                        }
                        if let Some(at) = at {
                            write!(out, ",\"{LINE}\":{}", JsonString(&self.location_name(at)))?;
                        }
                        write!(out, "}}}}")
                    }
                    EventKind::Waiting => write!(
                        out,
                        ",\n{{\"name\":\"{WAITING}\",\"cat\":\"gil\",\"ph\":\"{COMPLETE}\",\
                         \"pid\":{pid},\"tid\":{tid},\"ts\":{ts},\"dur\":{dur}}}"
                    ),
                    EventKind::DropRequest { holder } => write!(
                        out,
                        ",\n{{\"name\":\"{DROP_REQUEST}\",\"cat\":\"gil\",\"ph\":\"{INSTANT}\",\"s\":\"t\",\
                         \"pid\":{pid},\"tid\":{tid},\"ts\":{ts},\"args\":{{\"{HOLDER}\":{}}}}}",
                        holder.map_or(0, ThreadId::get)
                    ),
                    EventKind::CpuMove { from, to } => write!(
                        out,
                        ",\n{{\"name\":\"{CPU_MOVE}\",\"cat\":\"gil\",\"ph\":\"{INSTANT}\",\"s\":\"t\",\
                         \"pid\":{pid},\"tid\":{tid},\"ts\":{ts},\"args\":{{\"{FROM}\":{},\"{TO}\":{to}}}}}",
                        from.map_or(-1, i64::from)
                    ),
                }?;
            }
        }
        Ok(())
    }

    /// When the lock was created: the origin of its trace's times.
    pub fn created(&self) -> Instant {
        self.created
    }
}

/// The start of a trace file, before the first process's tracks.
pub fn write_trace_start(out: &mut dyn io::Write) -> io::Result<()> {
    out.write_all(b"{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n")
}

/// The end of a trace file, after the last process's tracks.
pub fn write_trace_end(out: &mut dyn io::Write) -> io::Result<()> {
    out.write_all(b"\n]}\n")
}

impl<T> Gil<T> {
    /// The name the embedder gave `at`, or `#N`.
    pub(super) fn location_name(&self, at: Location) -> String {
        match &self.location_names {
            Some(names) => names.name(at),
            None => unnamed(at),
        }
    }
}

/// Text as a JSON string literal, quotes included.
struct JsonString<'a>(&'a str);

impl fmt::Display for JsonString<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

/// A duration printed as microseconds with three decimals (nanosecond precision).
struct Micros(Duration);

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.0.as_micros(), self.0.subsec_nanos() % 1000)
    }
}
