//! Drawing: the SVG of a checked and folded trace — lanes, axis, legend, markers — and
//! durations written for people (the time-to-pixel geometry is `scale.rs`). It owns the SVG structure documented in the
//! module docs and its invariant: every shape's `data-*` attributes are exact, whole
//! nanoseconds, so the picture can be checked against the trace.

use crate::svg::escape;
use std::fmt::Write as _;

use super::fold::{Checked, Column, Group, LaneDrawing, LaneOutline, Release};
use super::scale::{Ns, PLOT_W, PLOT_X, Scale, tick_step};
use crate::gil::SwitchReason;

const WIDTH: f64 = 1200.0;
const LABEL_X: f64 = 16.0;
/// Where each lane's totals are written, right of the plot.
const TOTALS_X: f64 = PLOT_X + PLOT_W as f64 + 16.0;
const LANE_TOP: f64 = 128.0;
const LANE_H: f64 = 54.0;
const RUN_H: f64 = 26.0;
const WAIT_H: f64 = 16.0;
const BLOCK_H: f64 = 10.0;
/// The release marks: a strip this high just under the running bar.
const RELEASE_H: f64 = 6.0;
/// And at least this wide, so a lone one shows.
const RELEASE_W: f64 = 2.5;
/// Thinner than this and a slice would vanish when rasterised.
const MIN_W: f64 = 0.5;
/// Slices drawn at least this wide get a hover tooltip; thinner ones are too many to label.
const TOOLTIP_W: f64 = 3.0;

/// Microseconds with three decimals: whole nanoseconds, as in the trace.
pub(super) fn us(t: Ns) -> String {
    let sign = if t < 0 { "-" } else { "" };
    format!("{sign}{}.{:03}", t.unsigned_abs() / 1000, t.unsigned_abs() % 1000)
}

/// A duration for people: "12.3 ms", "850 µs", "2.41 s".
pub(super) fn duration(t: Ns) -> String {
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

pub(super) fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
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
.release[data-reason="drop_request"] { fill: #d1242f; }
.release[data-reason="ticks"] { fill: #8250df; }
.release[data-reason="blocking"] { fill: #6e7781; }
.release[data-reason="thread_end"] { fill: #1f2328; }
.release[data-reason="schedule"] { fill: #bf3989; }
.release[data-reason="mixed"] { fill: #d4a72c; }
</style>"#;

/// The SVG for a checked trace whose lanes were folded onto the grid `scale`.
pub(super) fn draw(trace: &Checked, lanes: &[LaneDrawing], scale: &Scale, file_name: Option<&str>) -> String {
    let (t0, end) = (scale.t0, trace.end());
    let step = tick_step(end - t0, 10);
    let axis_end = end.max(t0 + 1);

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
    let running: usize = trace.lanes.iter().map(|l| l.running).sum();
    let waiting: usize = trace.lanes.iter().map(|l| l.waiting).sum();
    let drops: usize = trace.lanes.iter().map(|l| l.drops).sum();
    let moves: usize = trace.lanes.iter().map(|l| l.moves).sum();
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
    axis(&mut svg, scale, step, axis_end, lanes_bottom);
    for (index, (lane, drawing)) in trace.lanes.iter().zip(lanes).enumerate() {
        draw_lane(&mut svg, lane, drawing, index, scale);
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
    reason_legend(svg, y + 24.0);
}

/// Why a holder let the GIL go, for the legend and tooltips.
fn reason_text(reason: SwitchReason) -> &'static str {
    match reason {
        SwitchReason::DropRequest => "a waiter asked",
        SwitchReason::Ticks => "its slice ran out",
        SwitchReason::Blocking => "it blocked",
        SwitchReason::ThreadEnd => "it ended",
        SwitchReason::Schedule => "the policy chose",
    }
}

/// The second legend row: the colour of each hand-off reason's mark.
fn reason_legend(svg: &mut String, y: f64) {
    svg.push_str("<g class=\"legend-reasons\">\n");
    let intro = "mark under a running slice: why the holder let go";
    let _ = writeln!(svg, "<text x=\"{LABEL_X}\" y=\"{}\">{}</text>", y + 4.5, escape(intro));
    let mut x = LABEL_X + intro.chars().count() as f64 * 6.4 + 20.0;
    let items = SwitchReason::ALL
        .into_iter()
        .map(|r| (r.name(), reason_text(r)))
        .chain([("mixed", "several reasons in one pixel")]);
    for (name, meaning) in items {
        let _ = writeln!(
            svg,
            "<g class=\"legend-reason\" data-reason=\"{name}\"><title>{name}: {meaning}</title>\
             <rect class=\"release\" data-reason=\"{name}\" x=\"{x}\" y=\"{}\" width=\"12\" height=\"{RELEASE_H}\"/>\
             <text x=\"{:.1}\" y=\"{}\">{name}</text></g>",
            y - RELEASE_H / 2.0 + 1.0,
            x + 17.0,
            y + 4.5,
        );
        x += 17.0 + name.chars().count() as f64 * 6.4 + 18.0;
    }
    svg.push_str("</g>\n");
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
    fn write(&self, svg: &mut String, lane: &LaneOutline, column: &Column, scale: &Scale) {
        let Column { first, n, .. } = *column;
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

fn draw_lane(svg: &mut String, lane: &LaneOutline, drawing: &LaneDrawing, index: usize, scale: &Scale) {
    let top = LANE_TOP + LANE_H * index as f64;
    let mid = top + LANE_H / 2.0;
    let (ran, waited, idle) = (lane.ran, lane.waited, drawing.idle);
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
    if let Some((first, last)) = lane.lifetime {
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
    let layers: [(&str, &[Group], f64); 3] = [
        ("blocked", &drawing.blocked, BLOCK_H),
        ("waiting", &drawing.waiting, WAIT_H),
        ("running", &drawing.running, RUN_H),
    ];
    for (class, groups, full) in layers {
        for g in groups {
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
            let single_run = g.n == 1 && class == "running";
            let reason = g.reason.as_deref().filter(|_| single_run);
            if let Some(reason) = reason {
                let _ = write!(svg, " data-end=\"{}\"", escape(reason));
            }
            let handoff = g.handoff.filter(|_| single_run);
            if let Some(handoff) = handoff {
                let _ = write!(svg, " data-reason=\"{handoff}\"");
            }
            let line = g.line.as_deref().filter(|_| single_run);
            if let Some(line) = line {
                let _ = write!(svg, " data-line=\"{}\"", escape(line));
            }
            if w >= TOOLTIP_W {
                let what = match class {
                    "running" => "running",
                    "waiting" => "waiting for the GIL",
                    _ => "blocked (GIL released)",
                };
                let mut why = reason.map(|r| format!(", ended by {r}")).unwrap_or_default();
                if let Some(handoff) = handoff {
                    let _ = write!(why, " ({handoff}: {})", reason_text(handoff));
                }
                if let Some(line) = line {
                    let _ = write!(why, " at {line}");
                }
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

    for release in &drawing.releases {
        write_release(svg, lane, release, mid + RUN_H / 2.0 + 1.0, scale);
    }

    // Instants, one marker per pixel column: drop requests above the running bar, CPU
    // moves under it (below the release marks).
    for column in &drawing.drops {
        let holder = column.shared;
        let asked = match holder {
            Some(h) => format!("asked thread {h} to drop the GIL"),
            None => "asked for the GIL to be dropped".to_owned(),
        };
        let marker = Marker {
            class: "drop-request",
            path: triangle(scale.x(column.first), mid - RUN_H / 2.0 - 3.0),
            attribute: holder.map(|h| ("data-holder", h)),
            what: asked,
            many: "requests",
        };
        marker.write(svg, lane, column, scale);
    }
    for column in &drawing.moves {
        let to = column.shared;
        let whither = match to {
            Some(c) => format!("moved to CPU {c}, where the holder it took over from ran"),
            None => "moved to the CPU of the holder it took over from".to_owned(),
        };
        let marker = Marker {
            class: "cpu-move",
            path: triangle_up(scale.x(column.first), mid + RUN_H / 2.0 + RELEASE_H + 9.0),
            attribute: to.map(|c| ("data-to", c)),
            what: whither,
            many: "moves",
        };
        marker.write(svg, lane, column, scale);
    }

    // Totals on the right.
    if lane.lifetime.is_some() {
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

/// The mark for the releases of one pixel column: a short strip under the running bar
/// ending where the (first) running slice ended, coloured by its reason (or "mixed").
fn write_release(svg: &mut String, lane: &LaneOutline, release: &Release, y: f64, scale: &Scale) {
    let n = release.n();
    let shared = release.shared();
    let reason = shared.map_or("mixed", SwitchReason::name);
    let end = scale.x(release.first);
    let _ = write!(
        svg,
        "<rect class=\"release\" x=\"{:.2}\" y=\"{y:.2}\" width=\"{RELEASE_W}\" height=\"{RELEASE_H}\" \
         data-reason=\"{reason}\" data-ts-us=\"{}\" data-n=\"{n}\"",
        end - RELEASE_W,
        us(release.first)
    );
    if let Some(line) = &release.line {
        let _ = write!(svg, " data-line=\"{}\"", escape(line));
    }
    let why = match shared {
        Some(r) if n == 1 => format!("{r} ({})", reason_text(r)),
        Some(r) => format!("{n} times, each {r} ({})", reason_text(r)),
        None => {
            let counts: Vec<String> = SwitchReason::ALL
                .into_iter()
                .zip(release.counts)
                .filter(|&(_, k)| k > 0)
                .map(|(r, k)| format!("{r} {k}"))
                .collect();
            format!("{n} times: {}", counts.join(", "))
        }
    };
    let at = release.line.as_deref().map(|l| format!(", at {l}")).unwrap_or_default();
    let _ = writeln!(
        svg,
        "><title>{} let the GIL go at {}: {}{}</title></rect>",
        escape(&lane.name),
        duration(release.first - scale.t0),
        why,
        escape(&at)
    );
}
