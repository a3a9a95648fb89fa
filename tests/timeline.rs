//! `toy timeline` end to end: a trace recorded by the real binary under `--gil-trace` is
//! drawn by `toy::timeline::render_file`, and the SVG, read back with an XML parser, has
//! one lane per traced thread whose shapes account for every slice of the trace.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use toy::gil::trace::{arg, event, phase};
use toy::timeline::render_file;

/// Two CPU-bound threads fighting over the GIL and one that sleeps a millisecond at a time.
const CONTENDED: &str = r#"
let started = [0]
fn spin(n) {
    # Both spinners hold the GIL in turn before either finishes, so drop requests are certain.
    started[0] += 1
    while started[0] < 2 { }
    let s = 0
    for i in range(n) { s += i }
    return s
}
fn nap(k) { for i in range(k) { sleep(0.001) } return k }
let a = spawn(spin, 400000)
let b = spawn(spin, 400000)
let c = spawn(nap, 20)
print(a.join() == b.join(), c.join())
"#;

type Ns = i64;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("toy-timeline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// Run `script` with `--gil-trace` and return the trace's path.
fn record(name: &str, script: &str) -> PathBuf {
    // A short switch interval makes drop requests certain even on a loaded machine.
    let file = temp(&format!("{name}.toy"));
    std::fs::write(&file, script).expect("write script");
    let trace = temp(&format!("{name}.json"));
    let out = Command::new(env!("CARGO_BIN_EXE_toy"))
        .args([
            "run",
            "--switch-interval",
            "1ms",
            "--gil-trace",
            trace.to_str().unwrap(),
            file.to_str().unwrap(),
        ])
        .output()
        .expect("run toy");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    trace
}

/// Microseconds (JSON number or SVG attribute text) to whole nanoseconds.
fn ns(us: f64) -> Ns {
    (us * 1000.0).round() as Ns
}

fn attr_ns(node: roxmltree::Node, name: &str) -> Ns {
    ns(node
        .attribute(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .parse()
        .unwrap())
}

/// What the trace says about one thread.
#[derive(Debug, Default)]
struct Traced {
    name: String,
    running: Vec<(Ns, Ns)>,
    waiting: Vec<(Ns, Ns)>,
    drops: usize,
    moves: usize,
}

fn read_trace(path: &PathBuf) -> (Vec<u64>, BTreeMap<u64, Traced>) {
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut order = Vec::new();
    let mut threads: BTreeMap<u64, Traced> = BTreeMap::new();
    for e in json["traceEvents"].as_array().unwrap() {
        let Some(tid) = e["tid"].as_u64() else { continue };
        let t = threads.entry(tid).or_default();
        let span = || {
            let start = ns(e["ts"].as_f64().unwrap());
            (start, start + ns(e["dur"].as_f64().unwrap()))
        };
        match (e["ph"].as_str().unwrap(), e["name"].as_str().unwrap()) {
            (phase::METADATA, event::THREAD_NAME) => {
                order.push(tid);
                t.name = e["args"][arg::NAME].as_str().unwrap().to_owned();
            }
            (phase::COMPLETE, event::RUNNING) => t.running.push(span()),
            (phase::COMPLETE, event::WAITING) => t.waiting.push(span()),
            (phase::INSTANT, event::DROP_REQUEST) => t.drops += 1,
            (phase::INSTANT, event::CPU_MOVE) => t.moves += 1,
            _ => {}
        }
    }
    for t in threads.values_mut() {
        t.running.sort_unstable();
        t.waiting.sort_unstable();
    }
    (order, threads)
}

/// The documented merge rule: consecutive slices join a shape while it spans at most a pixel.
fn expected_shapes(slices: &[(Ns, Ns)], ns_per_px: Ns) -> usize {
    let mut shapes = 0;
    let mut current: Option<(Ns, Ns)> = None;
    for &(start, end) in slices {
        match current {
            Some((s, e)) if end.max(e) - s <= ns_per_px => current = Some((s, end.max(e))),
            _ => {
                shapes += 1;
                current = Some((start, end));
            }
        }
    }
    shapes
}

#[derive(Debug)]
struct Shape {
    tid: u64,
    start: Ns,
    end: Ns,
    busy: Ns,
    n: usize,
}

#[test]
fn contended_run_is_drawn_slice_for_slice() {
    let trace = record("contended", CONTENDED);
    let svg_path = temp("contended.svg");
    let summary = render_file(&trace, &svg_path).expect("render");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert_eq!(summary.bytes, svg.len());
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let root = doc.root_element();
    assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
    let ns_per_px: Ns = root.attribute("data-ns-per-px").unwrap().parse().unwrap();

    let (order, threads) = read_trace(&trace);
    assert_eq!(order, [1, 2, 3, 4], "main, two spinners, the sleeper");
    assert_eq!(summary.threads, 4);
    assert_eq!(
        summary.running_slices,
        threads.values().map(|t| t.running.len()).sum::<usize>()
    );
    assert!(
        summary
            .to_string()
            .starts_with(&format!("wrote {}: 4 threads over ", svg_path.display()))
    );

    // One lane per thread, in the trace's order, named as the trace names them.
    let lanes: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("lane"))
        .collect();
    let drawn: Vec<(u64, &str)> = lanes
        .iter()
        .map(|l| {
            (
                l.attribute("data-tid").unwrap().parse().unwrap(),
                l.attribute("data-name").unwrap(),
            )
        })
        .collect();
    let traced: Vec<(u64, &str)> = order.iter().map(|tid| (*tid, threads[tid].name.as_str())).collect();
    assert_eq!(drawn, traced);

    let mut all_running = Vec::new();
    let mut drop_markers = 0;
    for lane in &lanes {
        let tid: u64 = lane.attribute("data-tid").unwrap().parse().unwrap();
        let t = &threads[&tid];
        let of = |class: &str| -> Vec<Shape> {
            lane.children()
                .filter(|n| n.attribute("class") == Some(class))
                .map(|n| Shape {
                    tid,
                    start: attr_ns(n, "data-start-us"),
                    end: attr_ns(n, "data-end-us"),
                    busy: attr_ns(n, "data-us"),
                    n: n.attribute("data-n").unwrap().parse().unwrap(),
                })
                .collect()
        };
        for (class, slices) in [("running", &t.running), ("waiting", &t.waiting)] {
            let shapes = of(class);
            assert_eq!(shapes.len(), expected_shapes(slices, ns_per_px), "thread {tid} {class}");
            assert_eq!(
                shapes.iter().map(|s| s.n).sum::<usize>(),
                slices.len(),
                "thread {tid} {class}"
            );
            let traced: Ns = slices.iter().map(|(s, e)| e - s).sum();
            assert_eq!(
                shapes.iter().map(|s| s.busy).sum::<Ns>(),
                traced,
                "thread {tid} {class}"
            );
            for s in shapes.iter().filter(|s| s.n > 1) {
                assert!(s.end - s.start <= ns_per_px, "merged beyond a pixel: {s:?}");
            }
        }
        all_running.extend(of("running"));
        // Instants drawn as markers, each standing for `data-n` of them.
        let instants = |class: &str| -> usize {
            lane.children()
                .filter(|n| n.attribute("class") == Some(class))
                .map(|n| n.attribute("data-n").unwrap().parse::<usize>().unwrap())
                .sum()
        };
        let markers = instants("drop-request");
        assert_eq!(markers, t.drops, "thread {tid} drop requests");
        assert_eq!(instants("cpu-move"), t.moves, "thread {tid} cpu moves");
        drop_markers += markers;
    }
    assert!(
        drop_markers > 0,
        "two spinners contend for longer than the 1 ms switch interval"
    );

    // The GIL's invariant survives drawing: single slices of different threads never overlap,
    // and merged shapes blur it by at most the pixel they stand in.
    for a in &all_running {
        for b in all_running.iter().filter(|b| b.tid != a.tid) {
            let overlap = a.end.min(b.end) - a.start.max(b.start);
            if a.n == 1 && b.n == 1 {
                assert!(overlap <= 0, "{a:?} and {b:?} ran at once");
            } else {
                assert!(overlap <= ns_per_px, "{a:?} and {b:?} overlap by more than a pixel");
            }
        }
    }

    let legend: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("legend-item"))
        .filter_map(|n| n.attribute("data-state"))
        .collect();
    assert_eq!(legend, ["running", "waiting", "blocked", "drop-request", "cpu-move"]);
    let ticks = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("tick"))
        .count();
    assert!((4..=12).contains(&ticks), "{ticks} ticks");
}

#[test]
fn single_thread_run_has_one_lane() {
    let trace = record("single", "print(1 + 1)\n");
    let svg_path = temp("single.svg");
    let summary = render_file(&trace, &svg_path).expect("render");
    assert_eq!(summary.threads, 1);
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let lanes: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("lane"))
        .filter_map(|n| n.attribute("data-name"))
        .collect();
    assert_eq!(lanes, ["thread 1 (main)"]);
}

#[test]
fn unusable_files_get_messages_naming_them() {
    let out = temp("never.svg");
    let missing = temp("no-such-trace.json");
    assert_eq!(
        render_file(&missing, &out).unwrap_err(),
        format!("{}: no such trace file", missing.display())
    );

    let not_json = temp("not-json.json");
    std::fs::write(&not_json, "running at 5 ms\n").unwrap();
    let err = render_file(&not_json, &out).unwrap_err();
    assert!(
        err.starts_with(&format!("{} is not JSON: ", not_json.display())),
        "{err}"
    );

    let empty = temp("empty.json");
    std::fs::write(&empty, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n]}\n").unwrap();
    let err = render_file(&empty, &out).unwrap_err();
    assert!(
        err.starts_with(&format!("{} is an empty GIL trace", empty.display())),
        "{err}"
    );

    let other = temp("other.json");
    std::fs::write(&other, "{\"version\": 3}").unwrap();
    let err = render_file(&other, &out).unwrap_err();
    assert!(
        err.starts_with(&format!("{} is not a toy GIL trace", other.display())),
        "{err}"
    );
    assert!(!out.exists(), "no SVG is written for a bad trace");

    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/gil_trace_small.json");
    let unwritable = temp("no-such-dir").join("out.svg");
    let err = render_file(&fixture, &unwritable).unwrap_err();
    assert!(
        err.starts_with(&format!("cannot write {}: ", unwritable.display())),
        "{err}"
    );
}

/// What the synthetic trace holds for one thread.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Written {
    running: usize,
    ran: Ns,
    waiting: usize,
    drops: usize,
    moves: usize,
}

/// Microseconds with three decimals, as the GIL's trace writer prints them.
fn micros(t: Ns) -> String {
    format!("{}.{:03}", t / 1000, t % 1000)
}

/// Write a Chrome trace of at least `min_bytes` in the format of the GIL's writer: the
/// metadata, then each thread's events in the order that thread recorded them (drop
/// request, wait, CPU move, run). Four threads hand the GIL round a made-up schedule;
/// each thread's events come from replaying the same schedule, so nothing is held.
fn write_big_trace(path: &std::path::Path, min_bytes: u64) -> Vec<Written> {
    use std::io::Write;
    const THREADS: u64 = 4;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "{{\"displayTimeUnit\":\"ms\",\"traceEvents\":[").unwrap();
    write!(
        out,
        "{{\"name\":\"{}\",\"ph\":\"{}\",\"pid\":1,\"args\":{{\"{}\":\"toy\"}}}}",
        event::PROCESS_NAME,
        phase::METADATA,
        arg::NAME
    )
    .unwrap();
    for tid in 1..=THREADS {
        let main = if tid == 1 { " (main)" } else { "" };
        write!(
            out,
            ",\n{{\"name\":\"{}\",\"ph\":\"{}\",\"pid\":1,\"tid\":{tid},\"args\":{{\"{}\":\"thread {tid}{main}\"}}}}\
             ,\n{{\"name\":\"{}\",\"ph\":\"{}\",\"pid\":1,\"tid\":{tid},\"args\":{{\"{}\":{tid}}}}}",
            event::THREAD_NAME,
            phase::METADATA,
            arg::NAME,
            event::THREAD_SORT_INDEX,
            phase::METADATA,
            arg::SORT_INDEX
        )
        .unwrap();
    }
    // Each step writes about 330 bytes, a quarter of them per thread on average.
    let steps = min_bytes / 300;
    let mut written = vec![Written::default(); THREADS as usize];
    for me in 1..=THREADS {
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let (mut t, mut holder): (Ns, u64) = (1_000, 1);
        let w = &mut written[me as usize - 1];
        for step in 0..steps {
            let d = 2_000 + (next() % 20_000) as Ns;
            let taker = (holder + next() % (THREADS - 1)) % THREADS + 1;
            let wait = 1 + (next() % d as u64) as Ns;
            if taker == me {
                write!(
                    out,
                    ",\n{{\"name\":\"{}\",\"cat\":\"gil\",\"ph\":\"{}\",\"s\":\"t\",\"pid\":1,\"tid\":{me},\"ts\":{},\
                     \"args\":{{\"{}\":{holder}}}}}",
                    event::DROP_REQUEST,
                    phase::INSTANT,
                    micros(t + d - wait / 2),
                    arg::HOLDER
                )
                .unwrap();
                write!(
                    out,
                    ",\n{{\"name\":\"{}\",\"cat\":\"gil\",\"ph\":\"{}\",\"pid\":1,\"tid\":{me},\"ts\":{},\"dur\":{}}}",
                    event::WAITING,
                    phase::COMPLETE,
                    micros(t + d - wait),
                    micros(wait)
                )
                .unwrap();
                w.drops += 1;
                w.waiting += 1;
                if step % 7 == 0 {
                    write!(
                        out,
                        ",\n{{\"name\":\"{}\",\"cat\":\"gil\",\"ph\":\"{}\",\"s\":\"t\",\"pid\":1,\"tid\":{me},\
                         \"ts\":{},\"args\":{{\"{}\":1,\"{}\":0}}}}",
                        event::CPU_MOVE,
                        phase::INSTANT,
                        micros(t + d + 300),
                        arg::FROM,
                        arg::TO
                    )
                    .unwrap();
                    w.moves += 1;
                }
            }
            if holder == me {
                write!(
                    out,
                    ",\n{{\"name\":\"{}\",\"cat\":\"gil\",\"ph\":\"{}\",\"pid\":1,\"tid\":{me},\"ts\":{},\"dur\":{},\
                     \"args\":{{\"{}\":\"forced drop\"}}}}",
                    event::RUNNING,
                    phase::COMPLETE,
                    micros(t),
                    micros(d),
                    arg::END
                )
                .unwrap();
                w.running += 1;
                w.ran += d;
            }
            t += d + (next() % 3_000) as Ns;
            holder = taker;
        }
    }
    writeln!(out, "\n]}}").unwrap();
    out.flush().unwrap();
    written
}

/// Run `toy` with `args`; its exit status and peak resident memory in bytes (from the
/// kernel's accounting of the child, read when reaping it).
fn run_measured(args: &[&std::ffi::OsStr]) -> (i32, u64, String) {
    #[allow(
        clippy::zombie_processes,
        reason = "reaped by wait4 below, which also reports its peak memory"
    )]
    let child = Command::new(env!("CARGO_BIN_EXE_toy"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run toy");
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.expect("piped");
    let mut printed = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut printed).unwrap();
    let mut status = 0;
    // SAFETY: all zeroes is a valid `rusage`; `pid` is our own child, not yet reaped (the
    // `Child` handle was consumed above without waiting), and both pointers are to locals.
    let (reaped, usage) = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        (libc::wait4(pid, &mut status, 0, &mut usage), usage)
    };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    // Linux reports ru_maxrss in kilobytes.
    (code, usage.ru_maxrss as u64 * 1024, printed)
}

/// `toy timeline` streams the trace: a 100 MB trace is drawn in a memory budget set by the
/// drawing, not the file (reading it whole took 1.6 GB), and still accounts for every
/// slice and instant in it.
#[test]
fn a_hundred_megabyte_trace_is_drawn_in_bounded_memory() {
    const MB: u64 = 1 << 20;
    let trace = temp("big.json");
    let svg_path = temp("big.svg");
    let written = write_big_trace(&trace, 100 * MB);
    let size = std::fs::metadata(&trace).unwrap().len();
    assert!(size >= 100 * MB, "{size} bytes");

    let (code, peak, printed) = run_measured(&["timeline".as_ref(), trace.as_ref(), "-o".as_ref(), svg_path.as_ref()]);
    std::fs::remove_file(&trace).unwrap();
    assert_eq!(code, 0, "{printed}");
    eprintln!("drew a {} MB trace in {} MB of memory at peak", size / MB, peak / MB);
    assert!(
        peak < 200 * MB,
        "drawing a {} MB trace peaked at {} MB",
        size / MB,
        peak / MB
    );

    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let lanes: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("lane"))
        .collect();
    assert_eq!(lanes.len(), written.len());
    for (lane, w) in lanes.iter().zip(&written) {
        let sum_n = |class: &str| -> usize {
            lane.children()
                .filter(|n| n.attribute("class") == Some(class))
                .map(|n| n.attribute("data-n").unwrap().parse::<usize>().unwrap())
                .sum()
        };
        let drawn = Written {
            running: sum_n("running"),
            ran: attr_ns(*lane, "data-running-us"),
            waiting: sum_n("waiting"),
            drops: sum_n("drop-request"),
            moves: sum_n("cpu-move"),
        };
        assert_eq!(drawn, *w, "lane {:?}", lane.attribute("data-name"));
    }
    let running: usize = written.iter().map(|w| w.running).sum();
    assert!(printed.contains(&format!("{running} running slices")), "{printed}");
}
