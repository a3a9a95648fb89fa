use serde_json::{Value, json};

use super::draw::{duration, us};
use super::fold::{Merger, Slice};
use super::scale::tick_step;
use super::*;
use crate::gil::trace::arg;
use crate::gil::trace::event::{CPU_MOVE, DROP_REQUEST, RUNNING, WAITING};
use crate::gil::trace::event::{THREAD_NAME, THREAD_SORT_INDEX};
use crate::gil::trace::phase::{COMPLETE, INSTANT, METADATA};

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

const SMALL: &str = include_str!("../../tests/data/gil_trace_small.json");

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
    let ns_per_px = 100;
    let merge = |slices: &[Slice]| {
        let mut merger = Merger::default();
        for s in slices {
            merger.push(s.clone(), ns_per_px);
        }
        merger.groups
    };
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
    let groups: Vec<(Ns, Ns, Ns, usize)> = merge(&slices).iter().map(|g| (g.start, g.end, g.busy, g.n)).collect();
    assert_eq!(
        groups,
        [(0, 100, 30, 3), (101, 150, 49, 1), (150, 400, 250, 1), (400, 401, 1, 1)]
    );

    // A long run of tiny slices costs about two shapes per pixel, however many slices.
    let many: Vec<Slice> = (0..100_000).map(|i| slice(i * 7, i * 7 + 3)).collect();
    let groups = merge(&many);
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

/// `t` nanoseconds as the trace's microseconds.
fn micros(t: Ns) -> f64 {
    t as f64 / 1000.0
}

/// A trace of `n` hand-offs between threads 1 to 3, with drop requests and CPU moves, in
/// time order per thread; no two slices tie.
fn handoffs(n: i64) -> Vec<Value> {
    let mut events = vec![thread_name(1, "thread 1 (main)")];
    let mut t = 0;
    for i in 0..n {
        let (holder, taker) = ((i % 3 + 1) as u64, ((i + 1) % 3 + 1) as u64);
        let d = 3_000 + (i * 7919) % 50_000;
        let ask = micros(t + d / 2);
        events.push(
            json!({ "name": DROP_REQUEST, "ph": INSTANT, "tid": taker, "ts": ask, "args": { (arg::HOLDER): holder } }),
        );
        events.push(slice(WAITING, taker, json!(micros(t + 1)), json!(micros(d - 1))));
        if i % 5 == 0 {
            events.push(cpu_move(taker, micros(t + d + 2), Some((1, (i % 2) as u64))));
        }
        let mut run = slice(RUNNING, holder, json!(micros(t)), json!(micros(d)));
        run["args"] = json!({ (arg::END): if i % 4 == 0 { "blocking call" } else { "forced drop" } });
        events.push(run);
        t += d + (i % 11) * 1_000;
    }
    events
}

/// Events folded as they stream by and events held and sorted first (for a lane that
/// came out of order) give the same drawing.
#[test]
fn out_of_order_events_draw_the_same_as_ordered_ones() {
    let ordered = handoffs(3_000);
    let mut shuffled = ordered.clone();
    shuffled.reverse();
    shuffled.rotate_left(1_234);
    let (a, b) = (trace_of(&ordered), trace_of(&shuffled));
    let lanes_in_order = |text: &str| -> Vec<bool> {
        let mut outline = fold::Outline::default();
        let document = read::read(serde_json::de::StrRead::new(text), &mut outline).unwrap();
        outline
            .finish(document)
            .unwrap()
            .lanes
            .iter()
            .map(|l| l.in_order)
            .collect()
    };
    assert_eq!(lanes_in_order(&a), [true; 3]);
    assert_eq!(lanes_in_order(&b), [false; 3]);
    let svg = render(&a).unwrap();
    assert_eq!(render(&b).unwrap(), svg);
    assert!(shapes(&svg).iter().any(|s| s.n > 1), "the test needs merged shapes");
}

/// The GIL's own traces come in the order the drawing needs, so they are never held.
#[test]
fn the_gils_own_trace_streams() {
    use crate::gil::{Gil, GilConfig};
    let gil = Gil::new(
        0u64,
        GilConfig {
            switch_interval: std::time::Duration::from_micros(50),
            trace: true,
            ..GilConfig::default()
        },
    );
    let (gil, main) = (&gil, gil.register_thread());
    std::thread::scope(|s| {
        for _ in 0..2 {
            let tid = gil.register_thread();
            s.spawn(move || {
                let mut g = gil.acquire(tid);
                for i in 0..20_000u64 {
                    *g += i;
                    if i % 1_000 == 0 {
                        g.release_while(std::thread::yield_now);
                    }
                    if gil.eval_breaker().load(std::sync::atomic::Ordering::Relaxed) != 0 {
                        g.check_point();
                    }
                }
                g.exit();
            });
        }
        let mut g = gil.acquire(main);
        g.release_while(|| std::thread::sleep(std::time::Duration::from_millis(5)));
    });
    let text = gil.trace_json();
    let mut outline = fold::Outline::default();
    let document = read::read(serde_json::de::StrRead::new(&text), &mut outline).unwrap();
    let checked = outline.finish(document).unwrap();
    assert_eq!(checked.lanes.len(), 3);
    assert!(checked.lanes.iter().all(|l| l.in_order), "{text}");
}

/// As with one JSON object, a repeated key means its last value: only the last
/// `traceEvents` list is drawn, and only its errors count.
#[test]
fn only_the_last_trace_events_list_counts() {
    let first = slice(RUNNING, 1, json!("not a number"), json!(5));
    let last = slice(RUNNING, 2, json!(0), json!(5));
    let text = format!("{{\"traceEvents\":[{first}],\"otherData\":{{\"script\":\"a.toy\"}},\"traceEvents\":[{last}]}}");
    let svg = render(&text).unwrap();
    assert_eq!(svg.matches("class=\"lane\"").count(), 1);
    assert!(svg.contains("data-tid=\"2\"") && !svg.contains("data-tid=\"1\""));
    assert!(svg.contains("GIL timeline — a.toy"));
    let text = format!("{{\"traceEvents\":[{last}],\"traceEvents\":{{}}}}");
    assert!(render(&text).unwrap_err().contains("no \"traceEvents\" list"));
}

/// The UTF-8 check sees characters cut across reads, refuses a bad byte anywhere, and a
/// character cut off by the end of the input.
#[test]
fn utf8_is_checked_across_reads() {
    /// Hands out one byte per read.
    struct Trickle<'a>(&'a [u8]);
    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some((&b, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = b;
            self.0 = rest;
            Ok(1)
        }
    }
    let check = |bytes: &[u8]| {
        let (one, whole) = (is_utf8(Trickle(bytes)).unwrap(), is_utf8(bytes).unwrap());
        assert_eq!(one, whole, "{bytes:?}");
        one
    };
    assert!(check("thread 1 — 🧵 é".as_bytes()));
    assert!(check(b""));
    assert!(!check(b"ab\xffcd"));
    assert!(!check("é".as_bytes().split_last().unwrap().1));
    assert!(!check(b"\xf0\x9f\xa7x"));
    assert!(!check(b"\xed\xa0\x80")); // a surrogate
}

/// If the input changes between the two passes, pass 2 notices instead of drawing shapes
/// on a grid made for other events.
#[test]
fn a_trace_that_changes_between_passes_is_noticed() {
    let before = trace_of(&handoffs(10));
    let after = trace_of(&handoffs(11));
    let mut outline = fold::Outline::default();
    let document = read::read(serde_json::de::StrRead::new(&before), &mut outline).unwrap();
    let checked = outline.finish(document).unwrap();
    let scale = super::scale::Scale::fit(checked.start(), checked.end());
    assert!(fold_lanes(&checked, scale, &before).is_some());
    assert!(fold_lanes(&checked, scale, &after).is_none());
}
