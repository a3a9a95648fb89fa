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
//! # SVG structure (what tests and other tools may rely on)
//!
//! - `<svg class="gil-timeline">`: `data-t0-us` (time at the plot's left edge),
//!   `data-ns-per-px` (an integer: nanoseconds per pixel, the merge limit), `data-threads`.
//! - `<text class="title">`, `<text class="subtitle">`: heading and one-line summary.
//! - `<g class="legend">`: one `<g class="legend-item" data-state="S">` for each of
//!   `running`, `waiting`, `blocked`, `drop-request`, `cpu-move`.
//! - `<g class="axis">`: grid lines and `<text class="tick" data-ms="…">` labels in ms.
//! - `<g class="lane" data-tid="2" data-name="thread 2">`: one per thread, in
//!   `thread_sort_index` order, with exact totals `data-running-us`, `data-waiting-us`,
//!   `data-blocked-us` and the lifetime `data-first-us`/`data-last-us` (absent for a thread
//!   with no events). Inside it:
//!   - `<rect class="running|waiting|blocked">`: `data-start-us`/`data-end-us` (the span
//!     drawn), `data-us` (time in that state inside the span), `data-n` (trace slices it
//!     stands for); a single running slice also has `data-end` (why it ended, e.g. "forced
//!     drop"). Shapes wide enough to hover carry a `<title>` tooltip.
//!   - `<path class="drop-request">`: a red triangle on the lane of the thread that asked,
//!     one per pixel column: `data-ts-us` (the first request), `data-n`, and `data-holder`
//!     when every request in it named the same holder.
//!   - `<path class="cpu-move">`: a green triangle under the lane of a thread that moved
//!     onto the CPU of the holder it took the GIL from (`--gil-cpu follow`), one per pixel
//!     column: `data-ts-us` (the first move), `data-n`, and `data-to` when every move in
//!     it went to the same CPU.
//!   - `<text class="lane-label">` (the thread's name) and `<text class="totals">`
//!     ("ran …" and "waited …").
//!
//! Every `data-*-us` value is microseconds with exactly three decimals, i.e. whole
//! nanoseconds, the trace's own resolution, so sums can be checked exactly.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::gil::trace::event::{CPU_MOVE, DROP_REQUEST, RUNNING, THREAD_NAME, THREAD_SORT_INDEX, WAITING};
use crate::gil::trace::{arg, phase};

/// Nanoseconds since the GIL was created: the trace's `ts`/`dur` are microseconds with three
/// decimals, so whole nanoseconds hold them exactly and make merging arithmetic exact.
type Ns = i64;

const WIDTH: f64 = 1200.0;
const LABEL_X: f64 = 16.0;
const PLOT_X: f64 = 150.0;
/// Plot width in pixel columns.
const PLOT_W: i64 = 880;
const TOTALS_X: f64 = PLOT_X + PLOT_W as f64 + 16.0;
const LANE_TOP: f64 = 112.0;
const LANE_H: f64 = 44.0;
const RUN_H: f64 = 26.0;
const WAIT_H: f64 = 16.0;
const BLOCK_H: f64 = 10.0;
/// Thinner than this and a slice would vanish when rasterised.
const MIN_W: f64 = 0.5;
/// Slices drawn at least this wide get a hover tooltip; thinner ones are too many to label.
const TOOLTIP_W: f64 = 3.0;

/// Chrome's older spelling of an instant's phase; toy writes [`phase::INSTANT`], other
/// tools may write this.
const LEGACY_INSTANT: &str = "I";

const HOW_TO_TRACE: &str = "make one with `toy run --gil-trace FILE.json SCRIPT`";

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
    let bytes = std::fs::read(trace).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{}: no such trace file", trace.display()),
        _ => format!("cannot read {}: {e}", trace.display()),
    })?;
    let what = trace.display().to_string();
    let text =
        String::from_utf8(bytes).map_err(|_| TraceError::NotJson("it is not UTF-8 text".into()).message(&what))?;
    let parsed = parse(&text).map_err(|e| e.message(&what))?;
    let file_name = trace.file_name().map(|n| n.to_string_lossy().into_owned());
    let drawn = draw(&parsed, file_name.as_deref());
    std::fs::write(svg, &drawn).map_err(|e| format!("cannot write {}: {e}", svg.display()))?;
    Ok(Summary {
        svg: svg.to_path_buf(),
        bytes: drawn.len(),
        threads: parsed.lanes.len(),
        running_slices: parsed.lanes.iter().map(|l| l.running.len()).sum(),
        waiting_slices: parsed.lanes.iter().map(|l| l.waiting.len()).sum(),
        drop_requests: parsed.lanes.iter().map(|l| l.drops.len()).sum(),
        cpu_moves: parsed.lanes.iter().map(|l| l.moves.len()).sum(),
        span_us: parsed.end() as f64 / 1000.0,
    })
}

/// Draw a trace given as JSON text; returns the SVG document.
pub fn render(trace_json: &str) -> Result<String, String> {
    let parsed = parse(trace_json).map_err(|e| e.message("the trace"))?;
    Ok(draw(&parsed, None))
}

// ---------------------------------------------------------------------------------------
// Reading the trace

#[derive(Debug)]
enum TraceError {
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
    fn message(&self, what: &str) -> String {
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

#[derive(Clone, Debug)]
struct Slice {
    start: Ns,
    end: Ns,
    /// Why a running slice ended (`args.end`), when the trace says.
    reason: Option<String>,
}

#[derive(Clone, Copy, Debug)]
struct DropRequest {
    at: Ns,
    holder: Option<u64>,
}

/// A thread moved onto the CPU of the holder it took the GIL from.
#[derive(Clone, Copy, Debug)]
struct CpuMove {
    at: Ns,
    /// The CPU it moved to, when the trace says.
    to: Option<u64>,
}

#[derive(Debug, Default)]
struct Lane {
    tid: u64,
    name: String,
    sort: i64,
    running: Vec<Slice>,
    waiting: Vec<Slice>,
    drops: Vec<DropRequest>,
    moves: Vec<CpuMove>,
}

impl Lane {
    /// First and last instant the trace saw this thread, if it saw it at all.
    fn lifetime(&self) -> Option<(Ns, Ns)> {
        let slices = self.running.iter().chain(&self.waiting);
        let instants = self.drops.iter().map(|d| d.at).chain(self.moves.iter().map(|m| m.at));
        let starts = slices.clone().map(|s| s.start).chain(instants.clone());
        let ends = slices.map(|s| s.end).chain(instants);
        Some((starts.min()?, ends.max()?))
    }

    /// The gaps in the lifetime where the thread neither ran nor waited: it had released
    /// the GIL (sleep, I/O, join, native code).
    fn blocked(&self) -> Vec<Slice> {
        let Some((first, last)) = self.lifetime() else {
            return Vec::new();
        };
        let mut busy: Vec<(Ns, Ns)> = self
            .running
            .iter()
            .chain(&self.waiting)
            .map(|s| (s.start, s.end))
            .collect();
        busy.sort_unstable();
        let mut out = Vec::new();
        let mut cursor = first;
        for (start, end) in busy {
            if start > cursor {
                out.push(Slice {
                    start: cursor,
                    end: start,
                    reason: None,
                });
            }
            cursor = cursor.max(end);
        }
        if last > cursor {
            out.push(Slice {
                start: cursor,
                end: last,
                reason: None,
            });
        }
        out
    }
}

#[derive(Debug)]
struct Trace {
    /// `otherData.script`, when the trace names its script.
    script: Option<String>,
    /// Sorted by `thread_sort_index`, then id.
    lanes: Vec<Lane>,
}

impl Trace {
    fn end(&self) -> Ns {
        self.lanes
            .iter()
            .filter_map(|l| l.lifetime())
            .map(|(_, last)| last)
            .max()
            .unwrap_or(0)
    }
}

/// Microseconds (a JSON number) to whole nanoseconds.
fn ns(v: Option<&Value>) -> Option<Ns> {
    let us = v?.as_f64()?;
    us.is_finite().then(|| (us * 1000.0).round() as Ns)
}

/// The lane for `tid`, named as toy names threads until a `thread_name` event says more.
fn lane(lanes: &mut BTreeMap<u64, Lane>, tid: u64) -> &mut Lane {
    lanes.entry(tid).or_insert_with(|| Lane {
        tid,
        name: format!("thread {tid}"),
        sort: i64::try_from(tid).unwrap_or(i64::MAX),
        ..Lane::default()
    })
}

fn parse(text: &str) -> Result<Trace, TraceError> {
    let json: Value = serde_json::from_str(text).map_err(|e| TraceError::NotJson(e.to_string()))?;
    // Chrome accepts both the object form and a bare array of events.
    let events = match &json {
        Value::Object(map) => match map.get("traceEvents") {
            Some(Value::Array(events)) => events,
            _ => return Err(TraceError::NotToy("it has no \"traceEvents\" list")),
        },
        Value::Array(events) => events,
        _ => {
            return Err(TraceError::NotToy(
                "it is neither a trace-event object nor a list of events",
            ));
        }
    };
    let script = json
        .get("otherData")
        .and_then(|d| d.get("script"))
        .and_then(Value::as_str)
        .map(str::to_owned);

    let mut lanes: BTreeMap<u64, Lane> = BTreeMap::new();
    let mut ours = 0usize;
    for (index, event) in events.iter().enumerate() {
        let ph = event.get("ph").and_then(Value::as_str).unwrap_or("");
        let name = event.get("name").and_then(Value::as_str).unwrap_or("");
        let tid = event.get("tid").and_then(Value::as_u64);
        let args = event.get("args");
        let malformed = || TraceError::Malformed {
            index,
            name: name.to_owned(),
        };
        match (ph, name) {
            (phase::METADATA, THREAD_NAME) => {
                let tid = tid.ok_or_else(malformed)?;
                ours += 1;
                if let Some(n) = args.and_then(|a| a.get(arg::NAME)).and_then(Value::as_str) {
                    lane(&mut lanes, tid).name = n.to_owned();
                }
            }
            (phase::METADATA, THREAD_SORT_INDEX) => {
                let tid = tid.ok_or_else(malformed)?;
                if let Some(i) = args.and_then(|a| a.get(arg::SORT_INDEX)).and_then(Value::as_i64) {
                    lane(&mut lanes, tid).sort = i;
                }
            }
            (phase::COMPLETE, RUNNING | WAITING) => {
                let (Some(tid), Some(start), Some(dur)) = (tid, ns(event.get("ts")), ns(event.get("dur"))) else {
                    return Err(malformed());
                };
                if dur < 0 {
                    return Err(malformed());
                }
                ours += 1;
                let lane = lane(&mut lanes, tid);
                let slice = Slice {
                    start,
                    end: start + dur,
                    reason: args
                        .and_then(|a| a.get(arg::END))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                };
                if name == RUNNING {
                    lane.running.push(slice);
                } else {
                    lane.waiting.push(slice);
                }
            }
            (phase::INSTANT | LEGACY_INSTANT, DROP_REQUEST) => {
                let (Some(tid), Some(at)) = (tid, ns(event.get("ts"))) else {
                    return Err(malformed());
                };
                ours += 1;
                // The GIL writes holder 0 when nobody held it at that moment.
                let holder = args
                    .and_then(|a| a.get(arg::HOLDER))
                    .and_then(Value::as_u64)
                    .filter(|&h| h != 0);
                lane(&mut lanes, tid).drops.push(DropRequest { at, holder });
            }
            (phase::INSTANT | LEGACY_INSTANT, CPU_MOVE) => {
                let (Some(tid), Some(at)) = (tid, ns(event.get("ts"))) else {
                    return Err(malformed());
                };
                ours += 1;
                let to = args.and_then(|a| a.get(arg::TO)).and_then(Value::as_u64);
                lane(&mut lanes, tid).moves.push(CpuMove { at, to });
            }
            // Other tools' events (and toy's process name) carry nothing to draw.
            _ => {}
        }
    }
    if ours == 0
        && events
            .iter()
            .any(|e| e.get("ph").and_then(Value::as_str) != Some(phase::METADATA))
    {
        return Err(TraceError::NoToyEvents);
    }
    if lanes.values().all(|l| l.running.is_empty() && l.waiting.is_empty()) {
        return Err(TraceError::Empty);
    }
    let mut lanes: Vec<Lane> = lanes.into_values().collect();
    lanes.sort_by_key(|l| (l.sort, l.tid));
    for lane in &mut lanes {
        lane.running.sort_by_key(|s| (s.start, s.end));
        lane.waiting.sort_by_key(|s| (s.start, s.end));
        lane.drops.sort_by_key(|d| d.at);
        lane.moves.sort_by_key(|m| m.at);
    }
    Ok(Trace { script, lanes })
}

// ---------------------------------------------------------------------------------------
// Geometry

/// Time to pixels. A pixel is a whole number of nanoseconds, so the merge rule is integer
/// arithmetic that a test can recompute exactly from the SVG's attributes.
#[derive(Clone, Copy, Debug)]
struct Scale {
    t0: Ns,
    ns_per_px: Ns,
}

impl Scale {
    fn column(&self, t: Ns) -> i64 {
        (t - self.t0).div_euclid(self.ns_per_px)
    }

    fn x(&self, t: Ns) -> f64 {
        PLOT_X + (t - self.t0) as f64 / self.ns_per_px as f64
    }
}

/// A "nice" tick step (1, 2 or 5 times a power of ten nanoseconds) giving at most about
/// `target` ticks over `span`.
fn tick_step(span: Ns, target: i64) -> Ns {
    let raw = (span.max(1) as f64 / target as f64).max(1.0);
    let mut magnitude: Ns = 1;
    while (magnitude as f64) * 10.0 <= raw {
        magnitude *= 10;
    }
    [1, 2, 5, 10]
        .iter()
        .map(|m| m * magnitude)
        .find(|&s| s as f64 >= raw)
        .unwrap_or(10 * magnitude)
}

/// `a / b` rounded up, for `a >= 0` and `b > 0`.
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

/// One drawn shape: a trace slice, or several within one pixel.
#[derive(Clone, Debug)]
struct Group<'a> {
    start: Ns,
    end: Ns,
    /// Time actually in this state inside `start..end`.
    busy: Ns,
    n: usize,
    first: &'a Slice,
}

/// Merge consecutive slices (sorted by start) while the group spans at most one pixel
/// (`ns_per_px`). Every second group starts at least a pixel later than the one before, so
/// a lane never gets more than about two shapes per state per pixel column.
fn merge<'a>(slices: &'a [Slice], scale: &Scale) -> Vec<Group<'a>> {
    let mut out: Vec<Group<'a>> = Vec::new();
    for s in slices {
        if let Some(g) = out.last_mut()
            && s.end.max(g.end) - g.start <= scale.ns_per_px
        {
            g.end = g.end.max(s.end);
            g.busy += s.end - s.start;
            g.n += 1;
            continue;
        }
        out.push(Group {
            start: s.start,
            end: s.end,
            busy: s.end - s.start,
            n: 1,
            first: s,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------
// Drawing

/// Microseconds with three decimals: whole nanoseconds, as in the trace.
fn us(t: Ns) -> String {
    let sign = if t < 0 { "-" } else { "" };
    format!("{sign}{}.{:03}", t.unsigned_abs() / 1000, t.unsigned_abs() % 1000)
}

/// A duration for people: "12.3 ms", "850 µs", "2.41 s".
fn duration(t: Ns) -> String {
    let ms = t as f64 / 1e6;
    if t == 0 {
        "0 ms".to_owned()
    } else if t < 1000 {
        format!("{t} ns")
    } else if t < 1_000_000 {
        format!("{:.0} µs", t as f64 / 1e3)
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1e3)
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Fonts and colors live in one stylesheet so each of possibly thousands of rects carries
/// only its geometry. Blue and orange stay distinct for color-blind readers.
const STYLE: &str = r#"<style>
text {
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", Arial, sans-serif;
  fill: #1f2328;
}
.title { font-size: 20px; font-weight: 600; }
.subtitle { font-size: 12.5px; fill: #59636e; }
.legend text { font-size: 12.5px; }
.lane-label { font-size: 13.5px; font-weight: 600; dominant-baseline: central; }
.totals { font-size: 12px; }
.totals .ran { fill: #1858c4; font-weight: 600; }
.totals .waited { fill: #b4530a; }
.totals .idle { fill: #8c959f; }
.tick { font-size: 11.5px; fill: #59636e; text-anchor: middle; }
.grid { stroke: #e1e5ea; stroke-width: 1; }
.axis-line { stroke: #8c959f; stroke-width: 1; }
.lane-bg { fill: #f6f8fa; }
.running { fill: #1f6feb; }
.waiting { fill: #fb8c00; }
.blocked { fill: url(#hatch); stroke: #c5cbd3; stroke-width: 0.5; }
.drop-request { fill: #d1242f; }
.cpu-move { fill: #1a7f37; }
</style>"#;

fn draw(trace: &Trace, file_name: Option<&str>) -> String {
    let end = trace.end();
    let t0 = trace
        .lanes
        .iter()
        .filter_map(|l| l.lifetime())
        .map(|(first, _)| first)
        .min()
        .unwrap_or(0)
        .min(0);
    let step = tick_step(end - t0, 10);
    // The plot ends with the trace, not at the next tick: that could waste a tenth of it.
    let axis_end = end.max(t0 + 1);
    let scale = Scale {
        t0,
        ns_per_px: ceil_div(axis_end - t0, PLOT_W).max(1),
    };

    let lanes_bottom = LANE_TOP + LANE_H * trace.lanes.len() as f64;
    let height = (lanes_bottom + 44.0).ceil();
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"gil-timeline\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" data-t0-us=\"{}\" data-ns-per-px=\"{}\" data-threads=\"{}\">",
        us(t0),
        scale.ns_per_px,
        trace.lanes.len()
    );
    let title = match trace.script.as_deref().or(file_name) {
        Some(name) => format!("GIL timeline — {name}"),
        None => "GIL timeline".to_owned(),
    };
    let _ = writeln!(svg, "<title>{}</title>", escape(&title));
    svg.push_str(STYLE);
    svg.push_str(
        "\n<defs><pattern id=\"hatch\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\" \
         patternTransform=\"rotate(45)\"><rect width=\"5\" height=\"5\" fill=\"#eef1f4\"/>\
         <line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"5\" stroke=\"#b8c0ca\" stroke-width=\"1.6\"/></pattern></defs>\n",
    );
    let _ = writeln!(svg, "<rect width=\"{WIDTH}\" height=\"{height}\" fill=\"#ffffff\"/>");

    // Heading.
    let running: usize = trace.lanes.iter().map(|l| l.running.len()).sum();
    let waiting: usize = trace.lanes.iter().map(|l| l.waiting.len()).sum();
    let drops: usize = trace.lanes.iter().map(|l| l.drops.len()).sum();
    let moves: usize = trace.lanes.iter().map(|l| l.moves.len()).sum();
    let _ = writeln!(
        svg,
        "<text class=\"title\" x=\"{LABEL_X}\" y=\"32\">{}</text>",
        escape(&title)
    );
    let _ = writeln!(
        svg,
        "<text class=\"subtitle\" x=\"{LABEL_X}\" y=\"54\">{} {} over {} · {running} running {} · {waiting} {} for \
         the GIL · {drops} drop {} · {moves} cpu {} · 1 px = {}</text>",
        trace.lanes.len(),
        plural(trace.lanes.len(), "thread", "threads"),
        duration(end - t0),
        plural(running, "slice", "slices"),
        plural(waiting, "wait", "waits"),
        plural(drops, "request", "requests"),
        plural(moves, "move", "moves"),
        duration(scale.ns_per_px),
    );
    legend(&mut svg);
    axis(&mut svg, &scale, step, axis_end, lanes_bottom);
    for (index, lane) in trace.lanes.iter().enumerate() {
        draw_lane(&mut svg, lane, index, &scale);
    }
    svg.push_str("</svg>\n");
    svg
}

fn legend(svg: &mut String) {
    let y = 80.0;
    svg.push_str("<g class=\"legend\">\n");
    let items: [(&str, &str); 5] = [
        ("running", "running (holds the GIL)"),
        ("waiting", "waiting for the GIL"),
        ("blocked", "blocked: GIL released (sleep, I/O, native)"),
        ("drop-request", "drop request (a waiter asks)"),
        ("cpu-move", "moved to the last holder's CPU"),
    ];
    let mut x = LABEL_X;
    for (state, text) in items {
        let _ = write!(svg, "<g class=\"legend-item\" data-state=\"{state}\">");
        let _ = match state {
            "running" => write!(
                svg,
                "<rect class=\"running\" x=\"{x}\" y=\"{}\" width=\"18\" height=\"{RUN_H}\"/>",
                y - RUN_H / 2.0
            ),
            "waiting" => write!(
                svg,
                "<rect class=\"waiting\" x=\"{x}\" y=\"{}\" width=\"18\" height=\"{WAIT_H}\"/>",
                y - WAIT_H / 2.0
            ),
            "blocked" => write!(
                svg,
                "<rect class=\"blocked\" x=\"{x}\" y=\"{}\" width=\"18\" height=\"{BLOCK_H}\"/>",
                y - BLOCK_H / 2.0
            ),
            "drop-request" => write!(
                svg,
                "<path class=\"drop-request\" d=\"{}\"/>",
                triangle(x + 9.0, y - 6.0)
            ),
            _ => write!(
                svg,
                "<path class=\"cpu-move\" d=\"{}\"/>",
                triangle_up(x + 9.0, y + 3.0)
            ),
        };
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\">{}</text></g>",
            x + 24.0,
            y + 4.5,
            escape(text)
        );
        // Approximate text width: enough room at 12.5 px for the fonts named in STYLE.
        x += 24.0 + text.chars().count() as f64 * 6.4 + 26.0;
    }
    svg.push_str("</g>\n");
}

/// Runs of `items` (sorted by time) that fall in the same pixel column.
fn by_column<'a, T>(
    items: &'a [T],
    at: impl Fn(&T) -> Ns + 'a,
    scale: &'a Scale,
) -> impl Iterator<Item = &'a [T]> + 'a {
    let mut rest = items;
    std::iter::from_fn(move || {
        let column = scale.column(at(rest.first()?));
        let n = rest.iter().take_while(|item| scale.column(at(item)) == column).count();
        let (group, tail) = rest.split_at(n);
        rest = tail;
        Some(group)
    })
}

/// A marker standing for the instants of one pixel column.
struct Marker {
    class: &'static str,
    path: String,
    /// An attribute shared by every instant in the column, if they agree.
    attribute: Option<(&'static str, u64)>,
    /// What the thread did, for the tooltip ("asked thread 2 to drop the GIL").
    what: String,
    /// The plural noun for the tooltip's count.
    many: &'static str,
}

impl Marker {
    fn write(&self, svg: &mut String, lane: &Lane, first: Ns, n: usize, scale: &Scale) {
        let _ = write!(
            svg,
            "<path class=\"{}\" d=\"{}\" data-ts-us=\"{}\" data-n=\"{n}\"",
            self.class,
            self.path,
            us(first)
        );
        if let Some((name, value)) = self.attribute {
            let _ = write!(svg, " {name}=\"{value}\"");
        }
        let times = if n > 1 {
            format!(" ({n} {})", self.many)
        } else {
            String::new()
        };
        let _ = writeln!(
            svg,
            "><title>{} {} at {}{times}</title></path>",
            escape(&lane.name),
            self.what,
            duration(first - scale.t0)
        );
    }
}

/// A small downward triangle whose tip is 7 px below `(x, top)`.
fn triangle(x: f64, top: f64) -> String {
    format!("M{:.2} {:.1}h9l-4.5 7z", x - 4.5, top)
}

/// A small upward triangle whose tip is 7 px above `(x, bottom)`.
fn triangle_up(x: f64, bottom: f64) -> String {
    format!("M{:.2} {:.1}h9l-4.5 -7z", x - 4.5, bottom)
}

fn axis(svg: &mut String, scale: &Scale, step: Ns, axis_end: Ns, lanes_bottom: f64) {
    svg.push_str("<g class=\"axis\">\n");
    let base = lanes_bottom + 4.0;
    // Decimals enough to tell neighbouring ticks apart, e.g. 0.05 ms steps need two.
    let mut decimals = 0usize;
    while decimals < 6 && step < 1_000_000 / 10i64.pow(decimals as u32) {
        decimals += 1;
    }
    let mut t = scale.t0.div_euclid(step) * step;
    if t < scale.t0 {
        t += step;
    }
    while t <= axis_end {
        let x = scale.x(t);
        let ms = t as f64 / 1e6;
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{x:.2}\" y1=\"{}\" x2=\"{x:.2}\" y2=\"{base}\"/>\
             <line class=\"axis-line\" x1=\"{x:.2}\" y1=\"{base}\" x2=\"{x:.2}\" y2=\"{}\"/>\
             <text class=\"tick\" x=\"{x:.2}\" y=\"{}\" data-ms=\"{ms:.decimals$}\">{ms:.decimals$} ms</text>",
            LANE_TOP - 6.0,
            base + 5.0,
            base + 19.0,
        );
        t += step;
    }
    let _ = writeln!(
        svg,
        "<line class=\"axis-line\" x1=\"{PLOT_X}\" y1=\"{base}\" x2=\"{:.2}\" y2=\"{base}\"/>",
        scale.x(axis_end)
    );
    svg.push_str("</g>\n");
}

fn draw_lane(svg: &mut String, lane: &Lane, index: usize, scale: &Scale) {
    let top = LANE_TOP + LANE_H * index as f64;
    let mid = top + LANE_H / 2.0;
    let total = |slices: &[Slice]| slices.iter().map(|s| s.end - s.start).sum::<Ns>();
    let blocked = lane.blocked();
    let (ran, waited, idle) = (total(&lane.running), total(&lane.waiting), total(&blocked));
    let _ = write!(
        svg,
        "<g class=\"lane\" data-tid=\"{}\" data-name=\"{}\" data-running-us=\"{}\" data-waiting-us=\"{}\" \
         data-blocked-us=\"{}\"",
        lane.tid,
        escape(&lane.name),
        us(ran),
        us(waited),
        us(idle)
    );
    if let Some((first, last)) = lane.lifetime() {
        let _ = write!(svg, " data-first-us=\"{}\" data-last-us=\"{}\"", us(first), us(last));
    }
    svg.push_str(">\n");
    if index.is_multiple_of(2) {
        let _ = writeln!(
            svg,
            "<rect class=\"lane-bg\" x=\"0\" y=\"{top}\" width=\"{WIDTH}\" height=\"{LANE_H}\"/>"
        );
    }
    let _ = writeln!(
        svg,
        "<text class=\"lane-label\" x=\"{LABEL_X}\" y=\"{mid}\">{}</text>",
        escape(&lane.name)
    );

    // Underneath first: blocked bands, then waits, then running on top.
    let layers: [(&str, &[Slice], f64); 3] = [
        ("blocked", &blocked, BLOCK_H),
        ("waiting", &lane.waiting, WAIT_H),
        ("running", &lane.running, RUN_H),
    ];
    for (class, slices, full) in layers {
        for g in merge(slices, scale) {
            let (x, w) = if g.n > 1 {
                // Snapped to whole pixels: a run of merged shapes then tiles the lane instead
                // of leaving anti-aliased seams that would read as a paler state.
                let x = scale.x(g.start).floor();
                (x, (scale.x(g.end).ceil() - x).max(1.0))
            } else {
                let x = scale.x(g.start);
                (x, (scale.x(g.end) - x).max(MIN_W))
            };
            // The height of a merged shape is the share of its pixel spent in the state (see
            // the module header); a single slice is drawn whole.
            let share = (g.busy as f64 / scale.ns_per_px as f64).clamp(0.25, 1.0);
            let (y, h) = match class {
                "running" if g.n > 1 => (mid - full / 2.0, full * share),
                "waiting" if g.n > 1 => (mid + full / 2.0 - full * share, full * share),
                _ => (mid - full / 2.0, full),
            };
            let _ = write!(
                svg,
                "<rect class=\"{class}\" x=\"{x:.2}\" y=\"{y:.2}\" width=\"{w:.2}\" height=\"{h:.2}\" \
                 data-start-us=\"{}\" data-end-us=\"{}\" data-us=\"{}\" data-n=\"{}\"",
                us(g.start),
                us(g.end),
                us(g.busy),
                g.n
            );
            let reason = g.first.reason.as_deref().filter(|_| g.n == 1 && class == "running");
            if let Some(reason) = reason {
                let _ = write!(svg, " data-end=\"{}\"", escape(reason));
            }
            if w >= TOOLTIP_W {
                let what = match class {
                    "running" => "running",
                    "waiting" => "waiting for the GIL",
                    _ => "blocked (GIL released)",
                };
                let why = reason.map(|r| format!(", ended by {r}")).unwrap_or_default();
                let _ = writeln!(
                    svg,
                    "><title>{} {what} {} ({} → {}){}</title></rect>",
                    escape(&lane.name),
                    duration(g.busy),
                    duration(g.start - scale.t0),
                    duration(g.end - scale.t0),
                    escape(&why)
                );
            } else {
                svg.push_str("/>\n");
            }
        }
    }

    // Instants, one marker per pixel column: drop requests above the running bar, CPU
    // moves under it.
    for group in by_column(&lane.drops, |d| d.at, scale) {
        let first = group[0];
        let holder = first.holder.filter(|h| group.iter().all(|d| d.holder == Some(*h)));
        let asked = match holder {
            Some(h) => format!("asked thread {h} to drop the GIL"),
            None => "asked for the GIL to be dropped".to_owned(),
        };
        let marker = Marker {
            class: "drop-request",
            path: triangle(scale.x(first.at), mid - RUN_H / 2.0 - 3.0),
            attribute: holder.map(|h| ("data-holder", h)),
            what: asked,
            many: "requests",
        };
        marker.write(svg, lane, first.at, group.len(), scale);
    }
    for group in by_column(&lane.moves, |m| m.at, scale) {
        let first = group[0];
        let to = first.to.filter(|c| group.iter().all(|m| m.to == Some(*c)));
        let whither = match to {
            Some(c) => format!("moved to CPU {c}, where the holder it took over from ran"),
            None => "moved to the CPU of the holder it took over from".to_owned(),
        };
        let marker = Marker {
            class: "cpu-move",
            path: triangle_up(scale.x(first.at), mid + RUN_H / 2.0 + 9.0),
            attribute: to.map(|c| ("data-to", c)),
            what: whither,
            many: "moves",
        };
        marker.write(svg, lane, first.at, group.len(), scale);
    }

    // Totals on the right.
    if lane.lifetime().is_some() {
        let _ = writeln!(
            svg,
            "<text class=\"totals\" x=\"{TOTALS_X}\" y=\"{}\"><tspan class=\"ran\">ran {}</tspan>\
             <tspan class=\"waited\" x=\"{TOTALS_X}\" dy=\"15\">waited {}</tspan></text>",
            mid - 3.0,
            duration(ran),
            duration(waited)
        );
    } else {
        let _ = writeln!(
            svg,
            "<text class=\"totals\" x=\"{TOTALS_X}\" y=\"{}\"><tspan class=\"idle\">no GIL activity</tspan></text>",
            mid + 4.0
        );
    }
    svg.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gil::trace::phase::{COMPLETE, INSTANT, METADATA};
    use serde_json::json;

    /// A trace document holding `events`.
    fn trace_of(events: &[Value]) -> String {
        json!({ "traceEvents": events }).to_string()
    }

    /// A running or waiting slice, as toy writes it.
    fn slice(name: &str, tid: u64, ts: Value, dur: Value) -> Value {
        json!({ "name": name, "ph": COMPLETE, "tid": tid, "ts": ts, "dur": dur })
    }

    /// A CPU move instant; `to` and `from` only when given.
    fn cpu_move(tid: u64, ts: f64, from_to: Option<(u64, u64)>) -> Value {
        let mut e = json!({ "name": CPU_MOVE, "ph": INSTANT, "s": "t", "tid": tid, "ts": ts });
        if let Some((from, to)) = from_to {
            e["args"] = json!({ (arg::FROM): from, (arg::TO): to });
        }
        e
    }

    fn thread_name(tid: u64, name: &str) -> Value {
        json!({ "name": THREAD_NAME, "ph": METADATA, "tid": tid, "args": { (arg::NAME): name } })
    }

    const SMALL: &str = include_str!("../tests/data/gil_trace_small.json");

    /// A `<rect>` or marker as the SVG describes it, in nanoseconds.
    #[derive(Debug)]
    struct Shape {
        class: String,
        tid: u64,
        start: Ns,
        end: Ns,
        busy: Ns,
        n: usize,
    }

    fn attr_ns(node: roxmltree::Node, name: &str) -> Ns {
        let text = node.attribute(name).unwrap_or_else(|| panic!("{name} missing"));
        // Three decimals exactly: removing the point gives whole nanoseconds.
        let (int, frac) = text.split_once('.').expect("three decimals");
        assert_eq!(frac.len(), 3, "{name}={text}");
        format!("{int}{frac}").parse().unwrap()
    }

    fn shapes(svg: &str) -> Vec<Shape> {
        let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
        let mut out = Vec::new();
        for lane in doc.descendants().filter(|n| n.attribute("class") == Some("lane")) {
            let tid: u64 = lane.attribute("data-tid").unwrap().parse().unwrap();
            for node in lane.children().filter(|n| n.is_element()) {
                let class = node.attribute("class").unwrap_or("");
                if ["running", "waiting", "blocked"].contains(&class) {
                    out.push(Shape {
                        class: class.to_owned(),
                        tid,
                        start: attr_ns(node, "data-start-us"),
                        end: attr_ns(node, "data-end-us"),
                        busy: attr_ns(node, "data-us"),
                        n: node.attribute("data-n").unwrap().parse().unwrap(),
                    });
                } else if class == "drop-request" || class == "cpu-move" {
                    let at = attr_ns(node, "data-ts-us");
                    let n = node.attribute("data-n").unwrap().parse().unwrap();
                    out.push(Shape {
                        class: class.to_owned(),
                        tid,
                        start: at,
                        end: at,
                        busy: 0,
                        n,
                    });
                }
            }
        }
        out
    }

    fn count(shapes: &[Shape], class: &str, tid: u64) -> usize {
        shapes.iter().filter(|s| s.class == class && s.tid == tid).count()
    }

    /// CPU moves become green markers under the running bar, one per pixel column, with
    /// the CPU when every move in the column went to the same one.
    #[test]
    fn cpu_moves_are_marked_per_pixel_column() {
        let trace = trace_of(&[
            slice(RUNNING, 1, json!(0), json!(880)),
            slice(RUNNING, 2, json!(100), json!(10)),
            cpu_move(2, 100.2, Some((1, 0))),
            cpu_move(2, 100.4, Some((1, 0))),
            cpu_move(2, 500.0, Some((0, 1))),
            cpu_move(2, 500.5, Some((1, 0))),
            cpu_move(1, 700.0, None),
        ]);
        let svg = render(&trace).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let moves: Vec<(u64, Ns, usize, Option<&str>)> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("lane"))
            .flat_map(|lane| {
                let tid: u64 = lane.attribute("data-tid").unwrap().parse().unwrap();
                lane.children()
                    .filter(|n| n.attribute("class") == Some("cpu-move"))
                    .map(move |n| {
                        (
                            tid,
                            attr_ns(n, "data-ts-us"),
                            n.attribute("data-n").unwrap().parse().unwrap(),
                            n.attribute("data-to"),
                        )
                    })
            })
            .collect();
        // 1 px = 1 µs here: the first two share a column; the next two do too, but went
        // to different CPUs; a move without `args` names none.
        assert_eq!(
            moves,
            [(1, 700_000, 1, None), (2, 100_200, 2, Some("0")), (2, 500_000, 2, None)]
        );
        assert!(svg.contains("5 cpu moves"), "the subtitle counts them");
    }

    #[test]
    fn small_trace_draws_exactly_its_slices() {
        let svg = render(SMALL).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
        assert_eq!(root.attribute("width"), Some("1200"));
        // 29.4 ms over 880 columns.
        assert_eq!(root.attribute("data-ns-per-px"), Some("33410"));

        let lanes: Vec<(&str, &str)> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("lane"))
            .map(|n| (n.attribute("data-tid").unwrap(), n.attribute("data-name").unwrap()))
            .collect();
        assert_eq!(
            lanes,
            [
                ("1", "thread 1 (main)"),
                ("2", "thread 2"),
                ("3", "thread 3"),
                ("4", "thread 4")
            ]
        );
        let labels: Vec<&str> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("lane-label"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(labels, ["thread 1 (main)", "thread 2", "thread 3", "thread 4"]);

        let shapes = shapes(&svg);
        // Thread 4's two runs 10 µs apart share a pixel (33.41 µs): one shape, n = 2.
        let running: Vec<usize> = (1..=4).map(|t| count(&shapes, "running", t)).collect();
        assert_eq!(running, [2, 3, 3, 2]);
        let merged: Vec<&Shape> = shapes.iter().filter(|s| s.n > 1).collect();
        assert_eq!(merged.len(), 1);
        assert_eq!(
            (
                merged[0].class.as_str(),
                merged[0].tid,
                merged[0].start,
                merged[0].end,
                merged[0].busy
            ),
            ("running", 4, 6_140_000, 6_151_000, 3_000)
        );
        let waiting: Vec<usize> = (1..=4).map(|t| count(&shapes, "waiting", t)).collect();
        assert_eq!(waiting, [0, 3, 3, 2]);
        // Main is blocked in join from 1.0 to 28.95 ms; thread 4 sleeps twice.
        let blocked: Vec<(u64, Ns, Ns)> = shapes
            .iter()
            .filter(|s| s.class == "blocked")
            .map(|s| (s.tid, s.start, s.end))
            .collect();
        assert_eq!(
            blocked,
            [
                (1, 1_000_000, 28_950_000),
                (4, 6_142_000, 6_150_000),
                (4, 6_151_000, 20_000_000)
            ]
        );
        let drops: Vec<(u64, Ns)> = shapes
            .iter()
            .filter(|s| s.class == "drop-request")
            .map(|s| (s.tid, s.start))
            .collect();
        assert_eq!(
            drops,
            [(2, 11_100_000), (2, 21_200_000), (3, 5_700_000), (3, 16_100_000)]
        );
        let holders: Vec<&str> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("drop-request"))
            .filter_map(|n| n.attribute("data-holder"))
            .collect();
        assert_eq!(holders, ["3", "3", "2", "2"]);

        // Totals on the lanes are the trace's, to the nanosecond, and the shapes add up to them.
        let lane2 = doc
            .descendants()
            .find(|n| n.attribute("data-tid") == Some("2"))
            .unwrap();
        assert_eq!(lane2.attribute("data-running-us"), Some("12797.000"));
        assert_eq!(lane2.attribute("data-waiting-us"), Some("10603.000"));
        assert_eq!(lane2.attribute("data-blocked-us"), Some("0.000"));
        for lane in doc.descendants().filter(|n| n.attribute("class") == Some("lane")) {
            let tid: u64 = lane.attribute("data-tid").unwrap().parse().unwrap();
            for (class, attr) in [
                ("running", "data-running-us"),
                ("waiting", "data-waiting-us"),
                ("blocked", "data-blocked-us"),
            ] {
                let sum: Ns = shapes
                    .iter()
                    .filter(|s| s.tid == tid && s.class == class)
                    .map(|s| s.busy)
                    .sum();
                assert_eq!(sum, attr_ns(lane, attr), "thread {tid} {class}");
            }
            // Every instant of the lifetime is in exactly one state.
            let life = attr_ns(lane, "data-last-us") - attr_ns(lane, "data-first-us");
            let states: Ns = ["data-running-us", "data-waiting-us", "data-blocked-us"]
                .iter()
                .map(|a| attr_ns(lane, a))
                .sum();
            assert_eq!(states, life, "thread {tid}");
        }
        let totals: Vec<String> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("totals"))
            .map(|n| {
                n.descendants()
                    .filter(|t| t.is_text())
                    .filter_map(|t| t.text())
                    .collect::<Vec<_>>()
                    .join(" / ")
            })
            .collect();
        assert_eq!(totals[1], "ran 12.8 ms / waited 10.6 ms");
        assert_eq!(totals[3], "ran 5 µs / waited 2.44 ms");

        let ticks: Vec<&str> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("tick"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(ticks, ["0 ms", "5 ms", "10 ms", "15 ms", "20 ms", "25 ms"]);
        let legend: Vec<&str> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("legend-item"))
            .filter_map(|n| n.attribute("data-state"))
            .collect();
        assert_eq!(legend, ["running", "waiting", "blocked", "drop-request", "cpu-move"]);
        let title = doc
            .descendants()
            .find(|n| n.attribute("class") == Some("title"))
            .unwrap();
        assert_eq!(title.text(), Some("GIL timeline — small.toy"));
    }

    #[test]
    fn running_shapes_of_different_threads_never_overlap_in_the_small_trace() {
        let shapes = shapes(&render(SMALL).unwrap());
        let running: Vec<&Shape> = shapes.iter().filter(|s| s.class == "running").collect();
        for a in &running {
            for b in &running {
                if a.tid != b.tid {
                    assert!(a.end <= b.start || b.end <= a.start, "{a:?} overlaps {b:?}");
                }
            }
        }
    }

    #[test]
    fn merging_keeps_groups_within_a_pixel() {
        let scale = Scale { t0: 0, ns_per_px: 100 };
        let slice = |start, end| Slice {
            start,
            end,
            reason: None,
        };
        let slices = [
            slice(0, 10),
            slice(20, 30),
            slice(90, 100),
            slice(101, 150),
            slice(150, 400),
            slice(400, 401),
        ];
        let groups: Vec<(Ns, Ns, Ns, usize)> = merge(&slices, &scale)
            .iter()
            .map(|g| (g.start, g.end, g.busy, g.n))
            .collect();
        assert_eq!(
            groups,
            [(0, 100, 30, 3), (101, 150, 49, 1), (150, 400, 250, 1), (400, 401, 1, 1)]
        );

        // A long run of tiny slices costs about two shapes per pixel, however many slices.
        let many: Vec<Slice> = (0..100_000).map(|i| slice(i * 7, i * 7 + 3)).collect();
        let groups = merge(&many, &scale);
        assert!(groups.len() <= 2 * (700_000 / 100) + 1, "{} groups", groups.len());
        assert_eq!(groups.iter().map(|g| g.n).sum::<usize>(), many.len());
        assert_eq!(groups.iter().map(|g| g.busy).sum::<Ns>(), 300_000);
        assert!(groups.iter().all(|g| g.end - g.start <= 100));
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(29_400_000, 10), 5_000_000);
        assert_eq!(tick_step(88_200_000, 10), 10_000_000);
        assert_eq!(tick_step(700_000_000, 10), 100_000_000);
        assert_eq!(tick_step(150_000, 10), 20_000);
        assert_eq!(tick_step(1, 10), 1);
        assert_eq!(duration(0), "0 ms");
        assert_eq!(duration(850), "850 ns");
        assert_eq!(duration(12_345), "12 µs");
        assert_eq!(duration(1_234_567), "1.23 ms");
        assert_eq!(duration(12_345_678), "12.3 ms");
        assert_eq!(duration(123_456_789), "123 ms");
        assert_eq!(duration(12_345_678_901), "12.35 s");
        assert_eq!(us(1_234_567), "1234.567");
        assert_eq!(us(5), "0.005");
    }

    #[test]
    fn sub_millisecond_ticks_get_decimals() {
        let trace = trace_of(&[slice(RUNNING, 1, json!(10), json!(140))]);
        let svg = render(&trace).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let ticks: Vec<&str> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("tick"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(ticks.first(), Some(&"0.00 ms"));
        assert_eq!(ticks.get(1), Some(&"0.02 ms"));
    }

    #[test]
    fn names_are_escaped_and_silent_threads_get_a_lane() {
        let trace = json!({
            "traceEvents": [
                thread_name(1, "thread 1 <main> & \"co\""),
                thread_name(7, "thread 7"),
                json!({ "name": THREAD_SORT_INDEX, "ph": METADATA, "tid": 7, "args": { (arg::SORT_INDEX): 0 } }),
                slice(RUNNING, 1, json!(0), json!(1000)),
                slice("some other tool", 1, json!(0), json!(5)),
            ],
            "otherData": { "script": "a<b>.toy" },
        });
        let svg = render(&trace.to_string()).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let lanes: Vec<&str> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("lane"))
            .map(|n| n.attribute("data-name").unwrap())
            .collect();
        // Sorted by thread_sort_index: thread 7 asked to come first.
        assert_eq!(lanes, ["thread 7", "thread 1 <main> & \"co\""]);
        assert!(svg.contains("no GIL activity"));
        let title = doc
            .descendants()
            .find(|n| n.attribute("class") == Some("title"))
            .unwrap();
        assert_eq!(title.text(), Some("GIL timeline — a<b>.toy"));
    }

    #[test]
    fn bad_input_gets_a_clear_message() {
        let err = render("not json").unwrap_err();
        assert!(err.starts_with("the trace is not JSON: expected"), "{err}");
        let err = render("{\"foo\": 1}").unwrap_err();
        assert!(
            err.starts_with("the trace is not a toy GIL trace: it has no \"traceEvents\" list"),
            "{err}"
        );
        assert!(err.contains("toy run --gil-trace"), "{err}");
        let err = render(&json!([slice("paint", 1, json!(0), json!(1))]).to_string()).unwrap_err();
        assert!(err.contains("is not a toy GIL trace: none of its events"), "{err}");
        for empty in [
            trace_of(&[]),
            trace_of(&[thread_name(1, "thread 1 (main)")]),
            trace_of(&[json!({ "name": DROP_REQUEST, "ph": INSTANT, "tid": 1, "ts": 5 })]),
        ] {
            let err = render(&empty).unwrap_err();
            assert!(err.starts_with("the trace is an empty GIL trace"), "{empty}: {err}");
        }
        let err = render(&trace_of(&[slice(RUNNING, 1, json!("soon"), json!(1))])).unwrap_err();
        assert_eq!(
            err,
            format!(
                "the trace is not a valid toy GIL trace: event 0 (\"{RUNNING}\") needs numbers \"tid\" and \"ts\" and \
                 a non-negative \"dur\""
            )
        );
        let err = render(&trace_of(&[slice(RUNNING, 1, json!(3), json!(-1))])).unwrap_err();
        assert!(err.contains("event 0"), "{err}");
    }

    #[test]
    fn a_hundred_thousand_slices_stay_a_reasonable_svg() {
        // Two threads handing the GIL back and forth every few microseconds for ~0.7 s.
        let mut events = vec![thread_name(1, "thread 1 (main)").to_string()];
        let (mut t, mut holder) = (0i64, 1u64);
        let mut ran = [0i64; 2];
        for i in 0..100_000i64 {
            let dur = 2_000 + (i * 7919) % 10_000;
            let other = 3 - holder;
            events.push(format!(
                r#"{{"name":"{RUNNING}","ph":"{COMPLETE}","tid":{holder},"ts":{},"dur":{}}}"#,
                us(t),
                us(dur)
            ));
            events.push(format!(
                r#"{{"name":"{WAITING}","ph":"{COMPLETE}","tid":{other},"ts":{},"dur":{}}}"#,
                us(t),
                us(dur)
            ));
            ran[holder as usize - 1] += dur;
            t += dur;
            holder = other;
        }
        let json = format!("{{\"traceEvents\":[{}]}}", events.join(",\n"));
        let svg = render(&json).unwrap();
        assert!(svg.len() < 1_500_000, "{} bytes", svg.len());
        let shapes = shapes(&svg);
        assert!(shapes.len() < 10_000, "{} shapes", shapes.len());
        for tid in [1, 2] {
            let running: Vec<&Shape> = shapes.iter().filter(|s| s.tid == tid && s.class == "running").collect();
            assert_eq!(running.iter().map(|s| s.n).sum::<usize>(), 50_000);
            assert_eq!(running.iter().map(|s| s.busy).sum::<Ns>(), ran[tid as usize - 1]);
        }
        roxmltree::Document::parse(&svg).unwrap();
    }
}
