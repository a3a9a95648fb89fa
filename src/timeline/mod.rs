//! `toy timeline`: draws a `--gil-trace` file (Chrome trace-event JSON written by
//! [`crate::gil::Gil::trace_json`]) as a standalone SVG, one lane per thread along a time
//! axis, in the style of David Beazley's "Understanding the Python GIL" diagrams. This file
//! owns the drawing's one invariant: **every instant of a thread's lifetime (its first
//! event to its last) is drawn as exactly one of running, waiting for the GIL, or blocked
//! (GIL released), and every drawn shape says which trace slices it stands for**, so the
//! picture adds up to the trace to the nanosecond.
//!
//! Blocked time is not in the trace: it is the gaps between a thread's running and waiting
//! slices (sleep, I/O, join, native code). To keep a 100,000-slice trace small, consecutive
//! slices of one state on one lane are merged while the merged shape spans at most one
//! pixel; such a shape is drawn on whole pixels, with a height proportional to the share
//! of the pixel spent in that state (running hangs from the top of the lane's bar, waiting
//! stands on the bottom, at least a quarter high), so fast GIL ping-pong reads as two half
//! bands rather than as two threads running at once. A single slice is drawn at full
//! height and at least half a pixel wide, however short.
//!
//! The trace is read as a stream, twice (fold.rs says how): memory follows the size of
//! the drawing, not of the file, so a trace of hundreds of megabytes draws in a few tens.
//!
//! # SVG structure (what tests and other tools may rely on)
//!
//! - `<svg class="gil-timeline">`: `data-t0-us` (time at the plot's left edge),
//!   `data-ns-per-px` (an integer: nanoseconds per pixel, the merge limit), `data-threads`.
//! - `<text class="title">`, `<text class="subtitle">`: heading and one-line summary.
//! - `<g class="legend">`: one `<g class="legend-item" data-state="S">` for each of
//!   `running`, `waiting`, `blocked`, `drop-request`, `cpu-move`; then
//!   `<g class="legend-reasons">`: one `<g class="legend-reason" data-reason="R">` for each
//!   hand-off reason (`drop_request`, `ticks`, `blocking`, `thread_end`, `schedule`, as in
//!   `gil_stats()["reasons"]`) and `mixed`, with the colour of its release mark.
//! - `<g class="axis">`: grid lines and `<text class="tick" data-ms="…">` labels in ms.
//! - `<g class="lane" data-tid="2" data-name="thread 2">`: one per thread, in
//!   `thread_sort_index` order, with exact totals `data-running-us`, `data-waiting-us`,
//!   `data-blocked-us` and the lifetime `data-first-us`/`data-last-us` (absent for a thread
//!   with no events). Inside it:
//!   - `<rect class="running|waiting|blocked">`: `data-start-us`/`data-end-us` (the span
//!     drawn), `data-us` (time in that state inside the span), `data-n` (trace slices it
//!     stands for); a single running slice also has `data-end` (why it ended, e.g. "forced
//!     drop"), `data-reason` (why the holder let go, a hand-off reason) and `data-line`
//!     (where it was, `file:line`) when the trace says. Shapes wide enough to hover carry
//!     a `<title>` tooltip.
//!   - `<rect class="release">`: a short strip under the running bar where running slices
//!     that say why they ended did end, one per pixel column, coloured by `data-reason`
//!     (their shared reason, or `mixed`): `data-ts-us` (the first one's end), `data-n`,
//!     and `data-line` (the first one's line) when the trace says. A release becomes a
//!     hand-off, counted under that reason, when another thread takes the GIL next.
//!   - `<path class="drop-request">`: a red triangle on the lane of the thread that asked,
//!     one per pixel column: `data-ts-us` (the first request), `data-n`, and `data-holder`
//!     when every request in it named the same holder.
//!   - `<path class="cpu-move">`: a green triangle under the lane of a thread that moved
//!     onto the CPU of the holder it took the GIL from, or off a sleeper's CPU
//!     (`--gil-cpu follow`), one per pixel
//!     column: `data-ts-us` (the first move), `data-n`, and `data-to` when every move in
//!     it went to the same CPU.
//!   - `<text class="lane-label">` (the thread's name) and `<text class="totals">`
//!     ("ran …" and "waited …").
//!
//! Every `data-*-us` value is microseconds with exactly three decimals, i.e. whole
//! nanoseconds, the trace's own resolution, so sums can be checked exactly.

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde_json::de::{IoRead, StrRead};

// One concept per file:
// The SVG and its geometry.
mod draw;
// Pass 1 checks the trace and outlines each lane; pass 2 folds the events onto pixels.
mod fold;
// A trace as a stream of events.
mod read;
mod scale;

#[cfg(test)]
mod tests;

use draw::{draw, duration, plural};
use fold::{Checked, Gather, LaneDrawing, Outline, TraceError};
use read::Utf8Check;
use scale::{Ns, Scale};

/// Bytes read from the trace file at a time.
const READ_BUFFER: usize = 1 << 16;

/// What [`render_file`] did; `Display` is the one line `toy timeline` prints.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The SVG written.
    pub svg: PathBuf,
    pub bytes: usize,
    /// Lanes drawn (threads named in the trace or seen in its events).
    pub threads: usize,
    pub running_slices: usize,
    pub waiting_slices: usize,
    pub drop_requests: usize,
    pub cpu_moves: usize,
    /// From the GIL's creation to the trace's last event, in microseconds.
    pub span_us: f64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wrote {}: {} {} over {}, {} running {}, {} waiting, {} drop {}, {} cpu {}",
            self.svg.display(),
            self.threads,
            plural(self.threads, "thread", "threads"),
            duration((self.span_us * 1000.0).round() as Ns),
            self.running_slices,
            plural(self.running_slices, "slice", "slices"),
            self.waiting_slices,
            self.drop_requests,
            plural(self.drop_requests, "request", "requests"),
            self.cpu_moves,
            plural(self.cpu_moves, "move", "moves"),
        )
    }
}

/// Read the trace at `trace`, draw it, and write the SVG to `svg`. Prints nothing; errors
/// are whole sentences naming the file, ready for the user.
pub fn render_file(trace: &Path, svg: &Path) -> Result<Summary, String> {
    let what = trace.display().to_string();
    let cannot_read = |e: io::Error| match e.kind() {
        io::ErrorKind::NotFound => format!("{what}: no such trace file"),
        _ => format!("cannot read {what}: {e}"),
    };
    let json_error = |e: serde_json::Error| {
        if e.is_io() {
            cannot_read(e.into())
        } else {
            TraceError::NotJson(e.to_string()).message(&what)
        }
    };
    let open = || File::open(trace).map_err(cannot_read);

    let (input, utf8) = Utf8Check::new(open()?);
    let mut outline = Outline::default();
    let read = read::read(IoRead::new(BufReader::with_capacity(READ_BUFFER, input)), &mut outline);
    // A file that is not UTF-8 is refused as such whatever else is wrong with it; a parse
    // that stopped early did not see all of it.
    let all_utf8 = match read {
        Ok(_) => utf8.get(),
        Err(_) => is_utf8(open()?).map_err(cannot_read)?,
    };
    if !all_utf8 {
        return Err(TraceError::NotJson("it is not UTF-8 text".into()).message(&what));
    }
    let checked = outline
        .finish(read.map_err(json_error)?)
        .map_err(|e| e.message(&what))?;
    let scale = Scale::fit(checked.start(), checked.end());
    let mut gather = Gather::new(&checked, scale);
    let reread = read::read(IoRead::new(BufReader::with_capacity(READ_BUFFER, open()?)), &mut gather);
    let changed = || format!("{what} changed while it was being drawn; draw it again");
    let lanes = match reread {
        Ok(_) => gather.finish().ok_or_else(changed)?,
        Err(e) if e.is_io() => return Err(cannot_read(e.into())),
        Err(_) => return Err(changed()),
    };

    let file_name = trace.file_name().map(|n| n.to_string_lossy().into_owned());
    let drawn = draw(&checked, &lanes, &scale, file_name.as_deref());
    std::fs::write(svg, &drawn).map_err(|e| format!("cannot write {}: {e}", svg.display()))?;
    Ok(Summary {
        svg: svg.to_path_buf(),
        bytes: drawn.len(),
        threads: checked.lanes.len(),
        running_slices: checked.lanes.iter().map(|l| l.running).sum(),
        waiting_slices: checked.lanes.iter().map(|l| l.waiting).sum(),
        drop_requests: checked.lanes.iter().map(|l| l.drops).sum(),
        cpu_moves: checked.lanes.iter().map(|l| l.moves).sum(),
        span_us: checked.end() as f64 / 1000.0,
    })
}

/// Draw a trace given as JSON text; returns the SVG document.
pub fn render(trace_json: &str) -> Result<String, String> {
    let what = "the trace";
    let mut outline = Outline::default();
    let document = read::read(StrRead::new(trace_json), &mut outline)
        .map_err(|e| TraceError::NotJson(e.to_string()).message(what))?;
    let checked = outline.finish(document).map_err(|e| e.message(what))?;
    let scale = Scale::fit(checked.start(), checked.end());
    // The same text reads the same twice; were it ever not to, say so rather than panic.
    let lanes = fold_lanes(&checked, scale, trace_json).ok_or_else(|| format!("{what} read differently twice"))?;
    Ok(draw(&checked, &lanes, &scale, None))
}

/// Pass 2 over text that pass 1 checked.
fn fold_lanes(checked: &Checked, scale: Scale, text: &str) -> Option<Vec<LaneDrawing>> {
    let mut gather = Gather::new(checked, scale);
    read::read(StrRead::new(text), &mut gather).ok()?;
    gather.finish()
}

/// Whether everything `input` holds is UTF-8.
fn is_utf8(input: impl io::Read) -> io::Result<bool> {
    let (mut check, utf8): (_, Rc<Cell<bool>>) = Utf8Check::new(input);
    io::copy(&mut check, &mut io::sink())?;
    Ok(utf8.get())
}
