//! The comparison as an SVG bar chart: one panel per measure (wall time, CPU time, GIL
//! switches, forced drops, total and worst GIL wait), one bar per policy, each labelled
//! with its value, each policy in its own colour in every panel. Invariant: within a panel
//! bar lengths are proportional to the values drawn beside them (the longest bar is the
//! largest value), and every bar carries its policy and exact value as `data-*`
//! attributes, so the picture can be checked against the table.
//!
//! Structure: `<svg class="compare-chart" data-runs data-policies>`, a `<text
//! class="title">`, then per measure `<g class="panel" data-measure="wall_s|cpu_s|
//! switches|forced_drops|wait_ms|worst_wait_ms">` holding a `<text class="panel-title">`
//! and per policy `<rect class="bar" data-policy data-value>` with a `<text
//! class="value">` and a `<text class="policy">`; last, `<g class="costliest">` with a
//! `<text class="line" data-policy>` per policy naming its costliest line.

use std::fmt::Write as _;

use super::summary::Row;
use crate::gil::PolicyKind;
use crate::svg::escape;

/// Two panels and the gap between them, with a 20 px margin on either side.
const WIDTH: f64 = 20.0 + PANEL_W + GAP + PANEL_W + 20.0;
const PANEL_W: f64 = 500.0;
const GAP: f64 = 20.0;
const LABEL_W: f64 = 92.0;
const BAR_MAX: f64 = 300.0;
const BAR_H: f64 = 20.0;
const ROW_H: f64 = 28.0;
const PANEL_HEAD: f64 = 34.0;
const TOP: f64 = 76.0;

/// Colours for the built-in policies, in `PolicyKind::ALL` order, then for any other;
/// distinct for colour-blind readers as far as six can be.
const COLOURS: [&str; 6] = ["#1f6feb", "#8250df", "#cf222e", "#1a7f37", "#bf8700", "#57606a"];

/// A policy's colour: the same in every chart.
fn colour(policy: &str) -> &'static str {
    let i = PolicyKind::ALL
        .iter()
        .position(|p| p.name() == policy)
        .unwrap_or(COLOURS.len() - 1);
    COLOURS[i]
}

/// One measure: its key, its heading, and how a row's value is read and written.
struct Measure {
    key: &'static str,
    title: &'static str,
    value: fn(&Row) -> f64,
    format: fn(f64) -> String,
}

fn seconds(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.2} s")
    } else {
        format!("{v:.3} s")
    }
}

fn count(v: f64) -> String {
    format!("{v:.0}")
}

fn millis(v: f64) -> String {
    format!("{v:.2} ms")
}

const MEASURES: [Measure; 6] = [
    Measure {
        key: "wall_s",
        title: "Wall time (median)",
        value: |r| r.wall.as_secs_f64(),
        format: seconds,
    },
    Measure {
        key: "cpu_s",
        title: "CPU time of the process (median)",
        value: |r| r.cpu.as_secs_f64(),
        format: seconds,
    },
    Measure {
        key: "switches",
        title: "GIL switches (median)",
        value: |r| r.switches as f64,
        format: count,
    },
    Measure {
        key: "forced_drops",
        title: "Forced drops (median)",
        value: |r| r.forced_drops as f64,
        format: count,
    },
    Measure {
        key: "wait_ms",
        title: "Time threads waited for the GIL, all threads (median)",
        value: |r| r.wait.as_secs_f64() * 1e3,
        format: millis,
    },
    Measure {
        key: "worst_wait_ms",
        title: "Longest single wait for the GIL (median)",
        value: |r| r.worst_wait.as_secs_f64() * 1e3,
        format: millis,
    },
];

/// The chart of `rows` for the script `what`, `runs` runs per policy.
pub(super) fn draw(rows: &[Row], what: &str, runs: usize) -> String {
    let panel_h = PANEL_HEAD + ROW_H * rows.len() as f64 + 10.0;
    let panel_rows = MEASURES.len().div_ceil(2);
    let footer_top = TOP + (panel_h + GAP) * panel_rows as f64;
    let height = (footer_top + 30.0 + 20.0 * rows.len() as f64 + 10.0).ceil();
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"compare-chart\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" data-runs=\"{runs}\" data-policies=\"{}\">",
        escape(&rows.iter().map(|r| r.policy.as_str()).collect::<Vec<_>>().join(","))
    );
    svg.push_str(
        "<style>\ntext { font-family: system-ui, \"DejaVu Sans\", Arial, sans-serif; fill: #1f2328; }\n\
         .title { font-size: 20px; font-weight: 600; }\n.subtitle { font-size: 12.5px; fill: #59636e; }\n\
         .panel-title { font-size: 14px; font-weight: 600; }\n.policy { font-size: 13px; text-anchor: end; \
         dominant-baseline: central; }\n.value { font-size: 12.5px; dominant-baseline: central; }\n\
         .panel-bg { fill: #f6f8fa; }\n.axis { stroke: #8c959f; stroke-width: 1; }\n</style>\n",
    );
    let _ = writeln!(svg, "<rect width=\"{WIDTH}\" height=\"{height}\" fill=\"#ffffff\"/>");
    let _ = writeln!(
        svg,
        "<text class=\"title\" x=\"20\" y=\"32\">GIL policies compared — {}</text>",
        escape(what)
    );
    let _ = writeln!(
        svg,
        "<text class=\"subtitle\" x=\"20\" y=\"54\">each bar: the median of {runs} run{} under that policy, \
         runs interleaved · shorter bars: less time, fewer switches, less waiting</text>",
        if runs == 1 { "" } else { "s" }
    );
    for (i, m) in MEASURES.iter().enumerate() {
        let x0 = 20.0 + (i % 2) as f64 * (PANEL_W + GAP);
        let y0 = TOP + (i / 2) as f64 * (panel_h + GAP);
        panel(&mut svg, m, rows, x0, y0, panel_h);
    }
    costliest(&mut svg, rows, footer_top);
    svg.push_str("</svg>\n");
    svg
}

/// Under the panels: the line each policy's waits were charged to most.
fn costliest(svg: &mut String, rows: &[Row], top: f64) {
    svg.push_str("<g class=\"costliest\">\n");
    let _ = writeln!(
        svg,
        "<text class=\"panel-title\" x=\"20\" y=\"{:.1}\">Costliest line: where the holder was when others \
         began to wait (waiting charged to it, mean per run)</text>",
        top + 14.0
    );
    for (i, row) in rows.iter().enumerate() {
        let y = top + 36.0 + 20.0 * i as f64;
        let text = match &row.costliest {
            Some((line, per_run)) => format!("{line}  {}", millis(per_run.as_secs_f64() * 1e3)),
            None => "none charged".to_string(),
        };
        let _ = writeln!(
            svg,
            "<text class=\"policy\" x=\"{:.1}\" y=\"{y:.1}\">{}</text><rect x=\"{:.1}\" y=\"{:.1}\" width=\"12\" \
             height=\"12\" fill=\"{}\"/><text class=\"line value\" x=\"{:.1}\" y=\"{y:.1}\" data-policy=\"{}\">{}</text>",
            20.0 + LABEL_W,
            escape(&row.policy),
            20.0 + LABEL_W + 8.0,
            y - 6.0,
            colour(&row.policy),
            20.0 + LABEL_W + 28.0,
            escape(&row.policy),
            escape(&text)
        );
    }
    svg.push_str("</g>\n");
}

fn panel(svg: &mut String, m: &Measure, rows: &[Row], x0: f64, y0: f64, panel_h: f64) {
    let _ = writeln!(svg, "<g class=\"panel\" data-measure=\"{}\">", m.key);
    let _ = writeln!(
        svg,
        "<rect class=\"panel-bg\" x=\"{x0}\" y=\"{y0}\" width=\"{PANEL_W}\" height=\"{panel_h}\" rx=\"6\"/>"
    );
    let _ = writeln!(
        svg,
        "<text class=\"panel-title\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
        x0 + 12.0,
        y0 + 22.0,
        escape(m.title)
    );
    let largest = rows.iter().map(|r| (m.value)(r)).fold(0.0, f64::max);
    let bar_x = x0 + LABEL_W + 12.0;
    let first = y0 + PANEL_HEAD;
    let _ = writeln!(
        svg,
        "<line class=\"axis\" x1=\"{bar_x}\" y1=\"{first}\" x2=\"{bar_x}\" y2=\"{:.1}\"/>",
        first + ROW_H * rows.len() as f64
    );
    for (i, row) in rows.iter().enumerate() {
        let value = (m.value)(row);
        let w = if largest > 0.0 { BAR_MAX * value / largest } else { 0.0 };
        let y = first + ROW_H * i as f64 + (ROW_H - BAR_H) / 2.0;
        let mid = y + BAR_H / 2.0;
        let colour = colour(&row.policy);
        let _ = writeln!(
            svg,
            "<text class=\"policy\" x=\"{:.1}\" y=\"{mid:.1}\">{}</text>\
             <rect class=\"bar\" x=\"{bar_x}\" y=\"{y:.1}\" width=\"{w:.2}\" height=\"{BAR_H}\" fill=\"{colour}\" \
             data-policy=\"{}\" data-value=\"{value}\"><title>{}: {}</title></rect>\
             <text class=\"value\" x=\"{:.1}\" y=\"{mid:.1}\">{}</text>",
            bar_x - 8.0,
            escape(&row.policy),
            escape(&row.policy),
            escape(&row.policy),
            (m.format)(value),
            bar_x + w + 6.0,
            (m.format)(value)
        );
    }
    svg.push_str("</g>\n");
}
