//! The seeded scheduler and `toy explore`, against the real binary: one racy script run
//! five times under one seed prints the same bytes every time, other seeds print other
//! things, and `toy explore` finds a failing seed of the unlocked race (and replays it),
//! finds none for the locked one, and says so with its exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn toy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_toy"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run toy")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A script whose output depends on every interleaving of three threads: each appends
/// its id to a shared list between reads and writes of a shared counter.
fn racy_script() -> PathBuf {
    let path = std::env::temp_dir().join(format!("toy-explore-racy-{}.toy", std::process::id()));
    std::fs::write(
        &path,
        r#"
let order = []
let x = 0
let q = Queue()
fn work(id) {
    for i in range(300) {
        let seen = x
        order.append(id)
        x = seen + 1
    }
    q.put(id)
}
let threads = [spawn(work, id) for id in range(3)]
let finished = [q.get() for i in range(3)]
for t in threads { t.join() }
print(x, finished)
print("".join([str(i) for i in order]))
"#,
    )
    .expect("write the racy script");
    path
}

#[test]
fn one_seed_repeats_its_run_byte_for_byte_and_other_seeds_differ() {
    let script = racy_script();
    let script = script.to_str().unwrap();
    let run = |seed: &str| {
        let out = toy(&["run", "--gil-policy", "random", "--gil-seed", seed, script]);
        assert!(out.status.success(), "seed {seed}: {}", text(&out.stderr));
        out.stdout
    };
    let first = run("7");
    for _ in 0..4 {
        assert_eq!(text(&run("7")), text(&first), "seed 7 did not repeat itself");
    }
    let others: Vec<Vec<u8>> = ["1", "2", "3", "4"].iter().map(|s| run(s)).collect();
    let distinct: std::collections::HashSet<&Vec<u8>> = others.iter().chain([&first]).collect();
    assert!(
        distinct.len() >= 3,
        "five seeds gave only {} different runs",
        distinct.len()
    );
}

#[test]
fn gil_policy_names_the_scheduler_and_switches_are_scheduled() {
    let script = std::env::temp_dir().join(format!("toy-explore-stats-{}.toy", std::process::id()));
    std::fs::write(
        &script,
        "fn spin(n) { let s = 0; for i in range(n) { s += i } return s }\n\
         let ts = [spawn(spin, 20000) for i in range(2)]\n\
         for t in ts { t.join() }\n\
         let s = gil_stats()\n\
         print(gil_policy(), s[\"reasons\"][\"schedule\"] > 0, s[\"reasons\"][\"drop_request\"])\n",
    )
    .unwrap();
    let out = toy(&[
        "run",
        "--gil-policy",
        "random",
        "--gil-seed",
        "3",
        script.to_str().unwrap(),
    ]);
    assert_eq!(text(&out.stdout), "random true 0\n", "{}", text(&out.stderr));
}

#[test]
fn explore_finds_a_losing_seed_of_the_unlocked_race_and_its_replay_fails_the_same_way() {
    let lab = Path::new("scripts/lab/race_seeds.toy");
    let out = toy(&["explore", "--runs", "50", lab.to_str().unwrap(), "plain"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.starts_with("seed "), "{report}");
    assert!(report.contains("AssertionError"), "{report}");
    let replay = report
        .lines()
        .skip_while(|l| !l.starts_with("replay it with:"))
        .nth(1)
        .expect("a replay command")
        .trim()
        .to_string();
    let words: Vec<&str> = replay.split(' ').collect();
    assert_eq!(words[0], "toy");
    let lost = |o: &Output| text(&o.stdout).lines().next().unwrap_or_default().to_string();
    let first = toy(&words[1..]);
    let second = toy(&words[1..]);
    assert_eq!(first.status.code(), Some(1));
    assert!(lost(&first).contains("lost"), "{}", lost(&first));
    assert_eq!(lost(&first), lost(&second), "the replay did not repeat itself");
}

#[test]
fn explore_finds_nothing_wrong_with_the_locked_race() {
    let out = toy(&["explore", "--runs", "60", "scripts/lab/race_seeds.toy", "locked"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "no failure in 60 seeds: every run exited cleanly and printed the same\n"
    );
}

#[test]
fn explore_reports_output_that_differs_between_seeds() {
    // Each thread prints as it goes: the interleaving shows in the output itself.
    let script = std::env::temp_dir().join(format!("toy-explore-chatty-{}.toy", std::process::id()));
    std::fs::write(
        &script,
        "fn chat(id) { for i in range(20) { print(id, i) } }\n\
         let ts = [spawn(chat, id) for id in range(2)]\n\
         for t in ts { t.join() }\n",
    )
    .unwrap();
    let out = toy(&[
        "explore",
        "--runs",
        "30",
        "--check-interval",
        "3",
        script.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.contains("its output differs from seed 1's at line"), "{report}");
    assert!(
        report.contains("--check-interval 3"),
        "the replay keeps the options: {report}"
    );
}

#[test]
fn explore_refuses_what_it_cannot_run() {
    let out = toy(&["explore", "no/such/file.toy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot open no/such/file.toy"));
    let out = toy(&["explore", "--runs", "0", "scripts/hello.toy"]);
    assert_eq!(out.status.code(), Some(2));
    // Every run reads the script again, which standard input cannot give twice.
    for command in ["explore", "compare"] {
        let out = toy(&[command, "-"]);
        assert_eq!(out.status.code(), Some(2), "toy {command} -");
        assert!(
            text(&out.stderr).contains("the script must be a file"),
            "toy {command} -: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn an_uncaught_error_fails_the_run_even_when_the_script_exits_with_0() {
    // A thread's error nobody joined is reported, then the script's own `exit(0)` wins
    // the exit code: explore still counts the run as failed, as the error went uncaught.
    let path = std::env::temp_dir().join(format!("toy-explore-exit0-{}.toy", std::process::id()));
    std::fs::write(
        &path,
        "let t = spawn(fn() { throw error(\"ValueError\", \"lost\") })\nsleep(0.05)\nexit(0)\n",
    )
    .expect("write the script");
    let out = toy(&["explore", "--runs", "3", path.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with("seed 1 fails: it exited with code 0 but an error went uncaught:"),
        "{stdout}"
    );
    assert!(stdout.contains("ValueError: lost"), "{stdout}");
    assert!(stdout.contains("toy run --gil-policy random --gil-seed 1 "), "{stdout}");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn explore_passes_run_options_on_and_replays_them_as_typed() {
    let path = std::env::temp_dir().join(format!("toy-explore-options-{}.toy", std::process::id()));
    std::fs::write(&path, "assert(switch_interval() == 0.002)\n").expect("write the script");
    let file = path.to_str().unwrap();
    let out = toy(&["explore", "--runs", "2", "--switch-interval", "2ms", file]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = toy(&[
        "explore",
        "--runs",
        "2",
        "--switch-interval",
        "3ms",
        "--gil-cpu",
        "any",
        file,
        "x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let replay = format!("toy run --gil-policy random --gil-seed 1 --switch-interval 3ms --gil-cpu any {file} x");
    assert!(text(&out.stdout).contains(&replay), "{}", text(&out.stdout));
    // Given before `explore`, an option counts as well; after it, it wins.
    let out = toy(&["--switch-interval", "2ms", "explore", "--runs", "2", file]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = toy(&[
        "--switch-interval",
        "3ms",
        "explore",
        "--runs",
        "2",
        "--switch-interval",
        "2ms",
        file,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // The policy and the seed are explore's to choose.
    for given in [["--gil-seed", "3"], ["--gil-policy", "fifo"]] {
        let out = toy(&[given[0], given[1], "explore", file]);
        assert_eq!(out.status.code(), Some(2), "{given:?}");
        assert!(
            text(&out.stderr).contains("is not an option of toy explore"),
            "{}",
            text(&out.stderr)
        );
    }
    let _ = std::fs::remove_file(&path);
}
