#!/usr/bin/env python3
"""Runs the GIL laboratory (scripts/lab/NAME.toy beside NAME.py) and prints one side-by-side
summary table: measure | CPython | toy interval | toy ticks | toy fifo | toy priority |
toy deadline | target.

Every script prints its own aligned table and then its measures as `label: number` lines;
this helper runs the scripts, keeps those lines, and puts each measure the issues ask for
in its row. Scripts whose result depends on the GIL policy run once per policy (each
CPython twin runs once: CPython has one policy, and its number is shown in the CPython
column); the others run once under toy's default policy and show `·` in the other policy
columns. A cell in an issue row gets ✓ or ✗ when the target applies to that column.
`--columns` runs only some columns (cpython and policy names), e.g. just `deadline`.

One experiment is no lab script: spawn_floor compiles benches/spawn_floor.rs (plain Rust
threads with toy's stack size, no interpreter, no GIL) and times 50 threads each sleeping
0.1 s, this machine's floor for io_threads' "50 threads each sleep(0.1)" row; its median
is shown once, in the first toy column, in the row under that one. Another has no toy
twin: handoff_floor.py, the floor for scaling's wake-up rows (a nap beside processes
passing one busy token, no GIL), shown in the CPython column.

Used by scripts/lab.sh; needs python3, and rustc for spawn_floor.
"""

import argparse
import datetime
import os
import platform
import re
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LAB = os.path.join(HERE, "lab")
POLICIES = ["interval", "ticks", "fifo", "priority", "deadline"]
# The seeded scheduler: a column of its own, for the experiments made for it (it is a tool
# for reproducing races, not a rival policy, so the others do not run under it).
SCHEDULER = "random"
COLUMNS = POLICIES + [SCHEDULER]
# race_seeds: the variants, and how many seeds each runs (quick: fewer).
SEED_VARIANTS = ["plain", "read_call_write", "locked", "locked_rcw"]
SEEDS, QUICK_SEEDS = 100, 20

# The machine's floor for "50 threads each sleep(0.1)": benches/spawn_floor.rs, rounds of
# 50 sleeps in a row against 50 threads each sleeping 0.1 s (about 5.1 s a round).
FLOOR = "spawn_floor"
FLOOR_SOURCE = os.path.join(ROOT, "benches", "spawn_floor.rs")
FLOOR_BINARY = os.path.join(ROOT, "target", "lab", "spawn_floor")
FLOOR_ROUNDS = 3  # 1 in quick mode

# The machine's floor for scaling's wake-up rows: scripts/lab/handoff_floor.py, a nap beside
# processes passing one busy token round a ring, no interpreter and no GIL. Python only:
# its numbers go in the CPython column.
HANDOFF_FLOOR = "handoff_floor"

# (script, runs toy under every policy?); FLOOR is benches/spawn_floor.rs (Runner.floor)
EXPERIMENTS = [
    ("io_threads", True),
    (FLOOR, False),
    ("cpu_threads", True),
    ("cpu_processes", False),
    ("native_threads", True),
    ("race", True),
    ("copy_cost", False),
    ("convoy", True),
    ("switch_interval", True),
    ("fairness", True),
    ("process_bench", False),
    ("deadlock", True),
    ("race_seeds", False),
    ("interp_bench", False),
    ("three_ways", False),
    ("scaling", True),
    (HANDOFF_FLOOR, False),
    ("messages", False),
]

# Extra toy runs: (key, script, toy options, policy column). Their measures are read under
# the key instead of the script name.
EXTRA = [
    ("native_threads+holds", "native_threads", ["--native-holds-gil"], "interval"),
    ("race+ticks101", "race", ["--gil-policy", "ticks", "--check-interval", "101"], "ticks"),
    ("cpu_threads+any", "cpu_threads", ["--gil-cpu", "any"], "interval"),
]


def ok_le(limit):
    return lambda v: v <= limit


def ok_ge(limit):
    return lambda v: v >= limit


# Rows: (section, name, source key, label printed by the script, format, target text,
# check or None, policies the check applies to)
ALL = POLICIES
ROWS = [
    ("Issue 3 — GIL", "2 CPU-bound threads / same work sequential", "cpu_threads",
     "2 CPU-bound threads / same work sequential", "{:.3f}", "≤ 1.03 (CPython ref 1.05)", ok_le(1.03), ALL),
    ("Issue 3 — GIL", "… share of that run with the GIL held by nobody (hand-offs, wake-ups; %)", "cpu_threads",
     "2 CPU-bound threads: share of the run with the GIL unheld (%)", "{:.2f}",
     "(what the lock adds; the rest of the gap is the host)", None, ALL),
    ("Issue 3 — GIL", "… the same with --gil-cpu any (threads stay where the kernel put them)", "cpu_threads+any",
     "2 CPU-bound threads / same work sequential", "{:.3f}", "(what following the CPU buys)", None, ALL),
    ("Issue 3 — GIL", "50 threads each sleep(0.1): speedup over sequential", "io_threads",
     "50 threads each sleep(0.1): speedup over sequential", "{:.1f}×", "≥ 49× (ref 48.5×)", ok_ge(49), ALL),
    ("Issue 3 — GIL", "… plain OS threads, no interpreter (this machine's floor, benches/spawn_floor)", FLOOR,
     "floor median speedup", "{:.1f}×", "(what any thread implementation gets here)", None, ALL),
    ("Issue 3 — GIL", "convoy: echo round trips (server in another process) beside a CPU-bound thread, slowdown vs alone",
     "convoy", "convoy: echo round trips beside a CPU-bound thread, slowdown vs alone", "{:.1f}×",
     "priority, deadline ≤ 2× (ref 355×)", ok_le(2), ["priority", "deadline"]),
    ("Issue 3 — GIL", "wake-up latency of a thread blocked 1 ms beside a CPU-bound thread, p99 (ms)", "convoy",
     "wake-up latency of a thread blocked 1 ms beside a CPU-bound thread, p99 (ms)", "{:.3f}",
     "priority ≤ 0.2 ms (ref 5.2)", ok_le(0.2), ["priority"]),
    ("Issue 3 — GIL", "4 CPU-bound threads for 2 s: Jain fairness of iteration counts", "fairness",
     "4 CPU-bound threads for 2 s: Jain fairness of their iteration counts", "{:.4f}",
     "fifo, deadline ≥ 0.998 (ref 0.992)", ok_ge(0.998), ["fifo", "deadline"]),
    ("Issue 4 — processes", "spawn + join of a trivial process (ms)", "process_bench",
     "spawn + join of a trivial process (ms)", "{:.3f}", "≤ 1.0 ms (ref 2.13)", ok_le(1.0), ALL),
    ("Issue 4 — processes", "small-message round trips per second", "process_bench",
     "small-message round trips per second (k)", "{:.1f}k", "≥ 60k (ref 26.6k)", ok_ge(60), ALL),
    ("Issue 4 — processes", "1,000,000 ints parent → child, with acknowledgement (s)", "process_bench",
     "1,000,000 ints parent -> child, with acknowledgement (s)", "{:.4f}", "≤ 0.020 s (ref 0.060)", ok_le(0.020), ALL),
    ("Issue 4 — processes", "100,000 short strings parent → child (s)", "process_bench",
     "100,000 short strings parent -> child (s)", "{:.4f}", "≤ 0.007 s (ref 0.014)", ok_le(0.007), ALL),
    ("Issue 4 — processes", "CPU-bound work in 2 processes vs sequential", "cpu_processes",
     "CPU-bound work in 2 processes vs sequential", "{:.2f}×", "≥ 1.95× (ref 1.97×)", ok_ge(1.95), ALL),
    ("Issue 5 — native", "native.count_primes in 2 threads vs sequential (CPython: hashlib.sha256)",
     "native_threads", "native 2 threads speedup over sequential", "{:.2f}×", "≥ 1.95× (ref 1.99×)", ok_ge(1.95), ALL),
    ("Issue 5 — native", "… the same with --native-holds-gil", "native_threads+holds",
     "native 2 threads speedup over sequential", "{:.2f}×", "≤ 1.05×", ok_le(1.05), ALL),
    ("Issue 6 — lab headlines", "1 io_threads: 50 slow-echo clients, threads speedup over sequential", "io_threads",
     "io_threads 50 echo clients: speedup over sequential", "{:.1f}×", "≫ 1 (threads help I/O)", None, ALL),
    ("Issue 6 — lab headlines", "2 cpu_threads: 4 threads / sequential time", "cpu_threads",
     "cpu_threads 4 threads / sequential", "{:.3f}", "≈ 1 (no help for CPU)", None, ALL),
    ("Issue 6 — lab headlines", "3 cpu_processes: pmap, 2 workers, speedup over sequential", "cpu_processes",
     "cpu_processes pmap 2 workers vs sequential", "{:.2f}×", "≈ 2 on 2 free cores", None, ALL),
    ("Issue 6 — lab headlines", "4 native_threads: bytecode loop beside a native call, speedup", "native_threads",
     "native_threads bytecode beside native speedup", "{:.2f}×", "≈ 2 on 2 free cores", None, ALL),
    ("Issue 6 — lab headlines", "4 native_threads: the same with --native-holds-gil", "native_threads+holds",
     "native_threads bytecode beside native speedup", "{:.2f}×", "≈ 1", None, ALL),
    ("Issue 6 — lab headlines", "5 race: lost updates, x = x + 1, no lock (of 600,000)", "race",
     "race lost updates, x = x + 1 (of 2N)", "{:.0f}", "> 0 under ticks", None, ALL),
    ("Issue 6 — lab headlines", "5 race: … trials run until one lost updates (at most 3)", "race",
     "race x = x + 1 trials (up to 3, until one loses updates)", "{:.0f}", "", None, ALL),
    ("Issue 6 — lab headlines", "5 race: … the same under ticks --check-interval 101", "race+ticks101",
     "race lost updates, x = x + 1 (of 2N)", "{:.0f}", "> 0", None, ALL),
    ("Issue 6 — lab headlines", "5 race: lost updates, read, call, write, no lock", "race",
     "race lost updates, read-call-write (of 2N)", "{:.0f}", "> 0", None, ALL),
    ("Issue 6 — lab headlines", "5 race: … trials run until one lost updates (at most 3)", "race",
     "race read-call-write trials (up to 3, until one loses updates)", "{:.0f}", "", None, ALL),
    ("Issue 6 — lab headlines", "5 race: lost updates with a Lock", "race",
     "race lost updates with a Lock", "{:.0f}", "0", None, ALL),
    ("Issue 6 — lab headlines", "5 race: Lock cost, 2 threads locked / unlocked time", "race",
     "race Lock cost, 2 threads locked / unlocked time", "{:.2f}", "> 1", None, ALL),
    ("Issue 6 — lab headlines", "6 copy_cost: 1M ints, process send + read / thread reads in place", "copy_cost",
     "copy_cost 1M ints: process send + read / thread in place", "{:.2f}", "> 1", None, ALL),
    ("Issue 6 — lab headlines", "6 copy_cost: 1M ints, bytes sent to the child", "copy_cost",
     "copy_cost 1M ints: bytes sent", "{:,.0f}", "", None, ALL),
    ("Issue 6 — lab headlines", "7 convoy: CPU-bound thread's speed beside the echo loop / alone", "convoy",
     "convoy CPU thread speed beside echo / alone", "{:.2f}", "", None, ALL),
    ("Issue 6 — lab headlines", "7 convoy: GIL wait within a 1 ms wake-up beside CPU, p99 (ms, toy only)", "convoy",
     "convoy (toy only) GIL wait within a 1 ms wake-up beside CPU, p99 (ms)", "{:.3f}", "", None, ALL),
    ("Issue 6 — lab headlines", "8 switch_interval 0.1 ms: 2 threads / sequential time", "switch_interval",
     "switch_interval 0.1 ms: 2 threads / sequential time", "{:.3f}", "≥ 1 (switching costs)", None, ALL),
    ("Issue 6 — lab headlines", "8 switch_interval 50 ms: 2 threads / sequential time", "switch_interval",
     "switch_interval 50 ms: 2 threads / sequential time", "{:.3f}", "≈ 1", None, ALL),
    ("Issue 6 — lab headlines", "8 switch_interval 0.1 ms: wake-up latency p50 (ms)", "switch_interval",
     "switch_interval 0.1 ms: wake-up latency p50 (ms)", "{:.3f}", "≈ interval", None, ALL),
    ("Issue 6 — lab headlines", "8 switch_interval 50 ms: wake-up latency p50 (ms)", "switch_interval",
     "switch_interval 50 ms: wake-up latency p50 (ms)", "{:.3f}", "≈ interval", None, ALL),
    ("Issue 6 — lab headlines", "9 fairness: min / max iterations of 4 CPU-bound threads", "fairness",
     "fairness min / max iterations", "{:.3f}", "→ 1 is fair", None, ALL),
    ("Issue 14 — reproducible races", "race, x = x + 1: seeds of 100 that lose updates", "race_seeds",
     "race_seeds plain: seeds that lose updates", "{:.0f}", "> 0", ok_ge(1), [SCHEDULER]),
    ("Issue 14 — reproducible races", "… the first losing seed loses the same again (1 = yes)", "race_seeds",
     "race_seeds plain: first losing seed repeats itself", "{:.0f}", "1", ok_ge(1), [SCHEDULER]),
    ("Issue 14 — reproducible races", "race, read, call, write: seeds of 100 that lose updates", "race_seeds",
     "race_seeds read_call_write: seeds that lose updates", "{:.0f}", "> 0", ok_ge(1), [SCHEDULER]),
    ("Issue 14 — reproducible races", "race with a Lock (both variants): seeds that lose updates", "race_seeds",
     "race_seeds locked: seeds that lose updates", "{:.0f}", "0", ok_le(0), [SCHEDULER]),
    ("Issue 14 — reproducible races", "… read, call, write with a Lock", "race_seeds",
     "race_seeds locked_rcw: seeds that lose updates", "{:.0f}", "0", ok_le(0), [SCHEDULER]),
    ("Issue 14 — deadlocks", "dining philosophers, left fork first: reported (1) or hung (0)", "deadlock",
     "deadlock unordered: reported (1) or hung (0)", "{:.0f}", "1 (CPython hangs)", ok_ge(1), ALL),
    ("Issue 14 — deadlocks", "… threads named in the report (the cycle has 5)", "deadlock",
     "deadlock unordered: threads named in the report", "{:.0f}", "5", ok_ge(5), ALL),
    ("Issue 14 — deadlocks", "… ms from the last philosopher's reach to its DeadlockError", "deadlock",
     "deadlock unordered: ms from the last reach to the report", "{:.3f}", "at once", None, ALL),
    ("Issue 14 — deadlocks", "… meals the other 4 then eat, share of theirs", "deadlock",
     "deadlock unordered: meals eaten by the others, share of (N-1)*M", "{:.2f}", "1", ok_ge(1), ALL),
    ("Issue 14 — deadlocks", "dining philosophers, lower-numbered fork first: meals eaten, share", "deadlock",
     "deadlock ordered: meals eaten, share of N*M", "{:.2f}", "1 (no cycle)", ok_ge(1), ALL),
    ("Issue 17 — interpreters", "2 CPU-bound interpreters vs sequential", "interp_bench",
     "2 CPU-bound interpreters vs sequential", "{:.2f}×", "≥ 1.95× on 2 free cores", ok_ge(1.95), ALL),
    ("Issue 17 — interpreters", "… 2 forked processes, same work (what the host gives two threads now)", "interp_bench",
     "2 CPU-bound processes vs sequential", "{:.2f}×", "(the host's parallelism: they share nothing)", None, ALL),
    ("Issue 17 — interpreters", "cpu_processes: the same work in 2 threads / 2 processes / 2 interpreters — threads", "cpu_processes",
     "CPU-bound work in 2 threads vs sequential", "{:.2f}×", "≈ 1 (one GIL)", None, ALL),
    ("Issue 17 — interpreters", "… 2 processes", "cpu_processes",
     "CPU-bound work in 2 processes vs sequential", "{:.2f}×", "≈ 2 on 2 free cores", None, ALL),
    ("Issue 17 — interpreters", "… 2 interpreters", "cpu_processes",
     "CPU-bound work in 2 interpreters vs sequential", "{:.2f}×", "≈ 2 on 2 free cores", None, ALL),
    ("Issue 17 — interpreters", "… pmap, 2 interpreters", "cpu_processes",
     "cpu_processes pmap 2 interpreters vs sequential", "{:.2f}×", "≈ 2 on 2 free cores", None, ALL),
    ("Issue 17 — interpreters", "copy_cost: 1M ints sent and read / a thread reading in place — process", "copy_cost",
     "copy_cost 1M ints: process send + read / thread in place", "{:.2f}", "> 1", None, ALL),
    ("Issue 17 — interpreters", "… interpreter", "copy_cost",
     "copy_cost 1M ints: interpreter send + read / thread in place", "{:.2f}", "> 1", None, ALL),
    ("Issue 17 — interpreters", "spawn + join of a trivial interpreter (ms)", "interp_bench",
     "spawn + join of a trivial interpreter (ms)", "{:.3f}", "≤ 0.2 ms", ok_le(0.2), ALL),
    ("Issue 17 — interpreters", "small-message round trips, interpreters / processes", "interp_bench",
     "small-message round trips, interpreters / processes", "{:.2f}×", "≥ 3×", ok_ge(3), ALL),
    ("Issue 17 — interpreters", "1,000,000 ints sent, interpreters / processes (time)", "interp_bench",
     "1,000,000 ints sent, interpreters / processes", "{:.3f}", "≤ 0.5", ok_le(0.5), ALL),
    ("Issue 17 — interpreters", "resident size per idle interpreter, 4 alive (KB)", "interp_bench",
     "resident size per idle interpreter, 4 alive (KB)", "{:.0f}", "(measured)", None, ALL),
    ("Issue 17 — interpreters", "pmap CPU-bound, 2 workers: threads speedup", "three_ways",
     "cpu-bound pmap threads speedup", "{:.2f}×", "≈ 1", None, ALL),
    ("Issue 17 — interpreters", "… interpreters speedup", "three_ways",
     "cpu-bound pmap interpreters speedup", "{:.2f}×", "≈ 2", None, ALL),
    ("Issue 17 — interpreters", "… processes speedup", "three_ways",
     "cpu-bound pmap processes speedup", "{:.2f}×", "≈ 2", None, ALL),
    ("Issue 17 — interpreters", "pmap sleeps, 2 workers: threads speedup", "three_ways",
     "sleeps pmap threads speedup", "{:.2f}×", "≈ 2", None, ALL),
    ("Issue 17 — interpreters", "… interpreters speedup", "three_ways",
     "sleeps pmap interpreters speedup", "{:.2f}×", "", None, ALL),
    ("Issue 17 — interpreters", "… processes speedup", "three_ways",
     "sleeps pmap processes speedup", "{:.2f}×", "", None, ALL),
    ("Issue 17 — interpreters", "pmap with a large global input: threads speedup", "three_ways",
     "large input pmap threads speedup", "{:.3f}×", "", None, ALL),
    ("Issue 17 — interpreters", "… interpreters speedup (the globals are copied)", "three_ways",
     "large input pmap interpreters speedup", "{:.3f}×", "", None, ALL),
    ("Issue 17 — interpreters", "… processes speedup (fork shares them)", "three_ways",
     "large input pmap processes speedup", "{:.3f}×", "", None, ALL),
]

# Issue 16: the same total of work over more and more threads, under the policies that
# hand the GIL out by request (ticks drops on its own; random is a tool, not a rival).
SCALED = ["interval", "fifo", "priority", "deadline"]
ROWS += [
    ("Issue 16 — cost as work grows", f"{k} CPU-bound thread{'s' if k > 1 else ''}, fixed total work: fastest time / fastest sequential",
     "scaling", f"scaling {k} CPU-bound threads / sequential", "{:.3f}",
     "≤ 1.05 (interval, fifo, priority, deadline)", ok_le(1.05), SCALED)
    for k in [1, 2, 4, 8, 16, 64]
]
ROWS += [
    ("Issue 16 — cost as work grows", f"… share of the {k}-thread run with the GIL held by nobody (%, toy only)",
     "scaling", f"scaling {k} CPU-bound threads: share of the run with the GIL unheld (%)", "{:.2f}",
     "(the lock's own part of the excess; the rest is the host)", None, SCALED)
    for k in [2, 16, 64]
]
ROWS += [
    ("Issue 16 — cost as work grows", "spawn + join of a thread that returns at once, 64 at a time (µs a thread)",
     "scaling", "scaling spawn + join of a thread, 64 at a time (us)", "{:.1f}",
     "(toy reuses OS threads; CPython starts one each time)", None, SCALED),
]
ROWS += [
    ("Issue 16 — cost as work grows", f"wake-up latency p99 of a 1 ms nap beside {c} CPU-bound thread{'s' if c > 1 else ''} (ms)",
     "scaling", f"scaling wake-up p99 beside {c} CPU-bound threads (ms)", "{:.3f}",
     "priority ≤ 0.5 ms", ok_le(0.5), ["priority"])
    for c in [1, 4, 16]
]
ROWS += [
    ("Issue 16 — cost as work grows", f"… of which waiting for the GIL, beside {c}: p99 (ms, toy only)",
     "scaling", f"scaling GIL wait within a wake-up beside {c} CPU-bound threads, p99 (ms)", "{:.3f}",
     "(the rest is the OS waking the thread)", None, ALL)
    for c in [1, 4, 16]
]
ROWS += [
    ("Issue 16 — cost as work grows",
     f"… a 1 ms nap beside {c} process{'es' if c > 1 else ''} passing one busy token every 5 ms, no GIL: p99 (ms; this machine's floor, handoff_floor.py)",
     HANDOFF_FLOOR, f"handoff_floor wake-up p99 beside {c} token-passing processes (ms)", "{:.3f}",
     "(what the OS alone costs when busy work changes hands)", None, ALL)
    for c in [1, 4, 16]
]
ROWS += [
    ("Issue 16 — cost as work grows", f"messages of {name} to a process (MB/s; CPython: Pipe + pickle)", "messages",
     f"messages {name} to a process (MB/s)", "{:.1f}", "", None, ALL)
    for name in ["10 B", "1 KB", "100 KB", "10 MB"]
]
ROWS += [
    ("Issue 16 — cost as work grows", "small-message round trips to a process per second, not pinned", "messages",
     "messages small round trips per second, unpinned (k)", "{:.1f}k", "≥ 2× CPython's", None, ALL),
]

LINE = re.compile(r"^(.*\S):\s+(\S+)\s*$")


def parse(out):
    measures = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        try:
            measures[m.group(1)] = float(m.group(2))
        except ValueError:
            pass
    return measures


FLOOR_LINE = re.compile(r"^floor: speedup (\S+)x to (\S+)x \(median (\S+)x\)\s*$")


def parse_floor(out):
    """spawn_floor's last line, `floor: speedup 48.13x to 48.86x (median 48.37x)`"""
    measures = {}
    for line in out.splitlines():
        m = FLOOR_LINE.match(line)
        if m:
            for name, text in zip(["min", "max", "median"], m.groups()):
                measures[f"floor {name} speedup"] = float(text)
    return measures


def steadiness(tries=40, chunk=0.01):
    """How steadily this machine runs one thread just now: a fixed pure-Python loop of
    about `chunk` seconds is timed `tries` times; returns the median and the worst time
    as multiples of the fastest. A quiet machine reads about 1.01 and 1.05; a host that
    takes the CPU away now and then reads far more, and rows comparing runs of a few
    tenths of a second (2 CPU-bound threads, fairness) then mean little."""
    def loop(n):
        t = time.perf_counter()
        x = 0
        for i in range(n):
            x += i
        return time.perf_counter() - t
    n = 10000
    while loop(n) < chunk:
        n *= 2
    times = sorted(loop(n) for _ in range(tries))
    return times[len(times) // 2] / times[0], times[-1] / times[0]


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def cpu_jiffies():
    """(busy, total) jiffies of the whole machine so far, from /proc/stat"""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


class Runner:
    def __init__(self, toy, quick, log, timeout, columns=None):
        self.toy = toy
        self.columns = columns  # None: every column
        self.quick = quick
        self.log = log
        self.timeout = timeout
        self.results = {}  # (key, column) -> dict of measures, or an error string
        self.failures = []

    def run(self, key, column, argv, quick_argv=None, parse_out=parse):
        """Runs argv (in quick mode quick_argv, by default argv + ["quick"]), logs its output
        and keeps parse_out(output) as the measures of (key, column)."""
        if self.quick:
            argv = argv + ["quick"] if quick_argv is None else quick_argv
        shown = " ".join(["python3" if argv[0] == sys.executable else os.path.relpath(argv[0])]
                         + [os.path.relpath(a) if os.path.isabs(a) else a for a in argv[1:]])
        print(f"  {column:<9} {shown}", end="", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout)
            out, err, code = p.stdout, p.stderr, p.returncode
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = f"timed out after {self.timeout} s"
            code = None
        except OSError as e:
            out, err, code = "", f"cannot run {argv[0]}: {e}", None
        secs = time.perf_counter() - t0
        print(f"  ({secs:.1f} s, load {loadavg()})" + ("" if code == 0 else f"  FAILED: {code}"),
              file=sys.stderr, flush=True)
        self.log.write(f"$ {shown}    # {secs:.1f} s, exit {code}, load {loadavg()}\n{out}")
        if err.strip():
            self.log.write("[stderr]\n" + err)
        self.log.write("\n")
        self.log.flush()
        if code == 0:
            self.results[(key, column)] = parse_out(out)
        else:
            tail = err.strip().splitlines()[-3:]
            self.results[(key, column)] = f"exit {code}: " + " / ".join(tail)
            self.failures.append((shown, code, err.strip()))

    def wanted(self, column):
        return self.columns is None or column in self.columns

    def experiment(self, name, per_policy):
        print(f"{name}", file=sys.stderr, flush=True)
        if self.wanted("cpython"):
            self.run(name, "cpython", [sys.executable, os.path.join(LAB, name + ".py")])
        if name == HANDOFF_FLOOR:
            return
        for policy in POLICIES if per_policy else ["interval"]:
            if self.wanted(policy):
                self.run(name, policy, [self.toy, "run", "--gil-policy", policy, os.path.join(LAB, name + ".toy")])
        for key, script, options, column in EXTRA:
            if script == name and self.wanted(column):
                self.run(key, column, [self.toy, "run", *options, os.path.join(LAB, name + ".toy")])

    def seeds(self, name):
        """race_seeds.toy under the seeded scheduler, seeds 1..N for each variant: how many
        seeds lose updates, and whether the first losing seed loses the same on a rerun."""
        print(f"{name}", file=sys.stderr, flush=True)
        if not self.wanted(SCHEDULER):
            return
        n = QUICK_SEEDS if self.quick else SEEDS
        script = os.path.join(LAB, name + ".toy")
        measures = {}
        t0 = time.perf_counter()
        for variant in SEED_VARIANTS:
            losing = []
            for seed in range(1, n + 1):
                argv = [self.toy, "run", "--gil-policy", SCHEDULER, "--gil-seed", str(seed), script, variant]
                p = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout)
                lost = re.search(r"lost (\d+) of", p.stdout)
                if lost is None:
                    self.failures.append((" ".join(argv[1:]), p.returncode, p.stderr.strip()))
                    self.results[(name, SCHEDULER)] = f"exit {p.returncode}"
                    return
                if int(lost.group(1)) > 0:
                    losing.append((seed, p.stdout))
            measures[f"race_seeds {variant}: seeds that lose updates"] = len(losing)
            if losing:
                seed, first = losing[0]
                again = subprocess.run(argv[:5] + [str(seed), script, variant],
                                       capture_output=True, text=True, timeout=self.timeout)
                measures[f"race_seeds {variant}: first losing seed repeats itself"] = int(again.stdout == first)
        secs = time.perf_counter() - t0
        print(f"  {SCHEDULER:<9} {len(SEED_VARIANTS)} variants x {n} seeds  ({secs:.1f} s, load {loadavg()})",
              file=sys.stderr, flush=True)
        self.log.write(f"$ race_seeds under {SCHEDULER}, seeds 1..{n}: {measures}\n\n")
        self.results[(name, SCHEDULER)] = measures

    def floor(self):
        """Compiles benches/spawn_floor.rs with rustc and runs it. Not `cargo bench`: that
        also builds toy in the bench profile (with the dev-dependencies' features) and links
        it over the release build of toy, so the experiments after it would time another binary."""
        print(FLOOR, file=sys.stderr, flush=True)
        os.makedirs(os.path.dirname(FLOOR_BINARY), exist_ok=True)
        build = [os.environ.get("RUSTC", "rustc"), "--edition", "2024", "-C", "opt-level=3",
                 "--crate-name", FLOOR, FLOOR_SOURCE, "-o", FLOOR_BINARY]
        self.run(FLOOR + "+build", "rustc", build, quick_argv=build, parse_out=lambda out: {})
        if isinstance(self.results[(FLOOR + "+build", "rustc")], str):
            self.results[(FLOOR, "interval")] = "not built"
            return
        self.run(FLOOR, "interval", [FLOOR_BINARY, str(FLOOR_ROUNDS)], quick_argv=[FLOOR_BINARY, "1"],
                 parse_out=parse_floor)


def cell(runner, key, column, label, fmt, check, applies):
    r = runner.results.get((key, column))
    if r is None:
        return "·"
    if isinstance(r, str):
        return "ERROR"
    if label not in r:
        return "n/a"
    v = r[label]
    text = fmt.format(v)
    if check is not None and column in applies:
        text += " ✓" if check(v) else " ✗"
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--toy", required=True, help="the toy binary")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (numbers are then not the issues' measures)")
    ap.add_argument("--log", help="write every script's full output here")
    ap.add_argument("--timeout", type=float, default=180, help="seconds before a script counts as hung")
    ap.add_argument("--only", help="comma-separated experiment names")
    ap.add_argument("--columns", help="comma-separated columns to run: cpython and policy names (default: all)")
    args = ap.parse_args()
    columns = None
    if args.columns:
        columns = [c.strip() for c in args.columns.split(",")]
        unknown = [c for c in columns if c not in ["cpython"] + COLUMNS]
        if unknown:
            ap.error(f"unknown column(s) {', '.join(unknown)}; known: cpython, {', '.join(COLUMNS)}")

    log_path = args.log or os.path.join(
        os.environ.get("TMPDIR", "/tmp"), f"toy-lab-{datetime.datetime.now():%Y%m%d-%H%M%S}.log")
    only = set(args.only.split(",")) if args.only else None
    started = datetime.datetime.now(datetime.timezone.utc)
    steady_before = steadiness()
    load_before = loadavg()
    jiffies_before = cpu_jiffies()
    # lab.sh execs this script, so the children's times already count the cargo build it
    # may have run: only what the experiments add is this lab's.
    ours_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        runner = Runner(os.path.abspath(args.toy), args.quick, log, args.timeout, columns)
        for name, per_policy in EXPERIMENTS:
            if only is None or name in only:
                if name == FLOOR:
                    runner.floor()
                elif name == "race_seeds":
                    runner.seeds(name)
                else:
                    runner.experiment(name, per_policy)
    elapsed = time.perf_counter() - t0
    jiffies_after = cpu_jiffies()
    ours = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours_cores = (ours.ru_utime + ours.ru_stime - ours_before.ru_utime - ours_before.ru_stime) / elapsed
    busy = ""
    if jiffies_before and jiffies_after:
        d_busy = jiffies_after[0] - jiffies_before[0]
        d_total = jiffies_after[1] - jiffies_before[1]
        busy_cores = (os.cpu_count() or 1) * d_busy / max(d_total, 1)
        busy = (f"; CPU in use during the run: {busy_cores:.2f} of {os.cpu_count()} cores on average, "
                f"{ours_cores:.2f} by this lab, so {max(busy_cores - ours_cores, 0):.2f} by other processes")

    steady_after = steadiness()
    steady = (f"; one-thread steadiness (a fixed 10 ms loop timed 40 times, median and worst as "
              f"multiples of its fastest) {steady_before[0]:.2f}/{steady_before[1]:.2f} before, "
              f"{steady_after[0]:.2f}/{steady_after[1]:.2f} after")

    py = subprocess.run([sys.executable, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"GIL lab, {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores ({cpu_model()}), "
          f"{py}, {'quick sizes' if args.quick else 'full sizes'}; run took {elapsed:.0f} s; "
          f"load average before {load_before}, after {loadavg()}{busy}{steady}")
    print()
    header = ["measure", "CPython"] + [f"toy {p}" for p in COLUMNS] + ["target"]
    section = None
    lines = []
    for sec, name, key, label, fmt, target, check, applies in ROWS:
        if only is not None and key.split("+")[0] not in only:
            continue
        if sec != section:
            section = sec
            lines.append([f"**{sec}**"] + [""] * (len(header) - 1))
        cells = [cell(runner, key, c, label, fmt, check, applies) for c in ["cpython"] + COLUMNS]
        lines.append([name] + cells + [target])
    widths = [max(len(x) for x in col) for col in zip(header, *lines)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in lines:
        print("| " + " | ".join(x.ljust(w) for x, w in zip(row, widths)) + " |")
    print()
    print("✓/✗: target met/missed where it applies. · = not run under that policy (policy-independent,")
    print("measured once under the default policy, or a column left out with --columns).")
    print("n/a = the script has no such measure (e.g. CPython cannot make native code keep the GIL).")
    print("CPython has one policy: its twin runs once.")
    print("Steadiness above about 1.03 (median) means the host took the CPU away during the run:")
    print("rows that compare runs of a few tenths of a second then swing by more than their targets.")
    if only is None or FLOOR in only:
        rounds = 1 if args.quick else FLOOR_ROUNDS
        print(f"The {FLOOR} row runs no interpreter: plain Rust threads (benches/spawn_floor.rs), "
              f"median of {rounds} round{'s' if rounds > 1 else ''} at full size.")
    print(f"Every script's own table: {log_path}")
    if runner.failures:
        print()
        print("FAILED RUNS:")
        for shown, code, err in runner.failures:
            print(f"  {shown}: exit {code}")
            for line in err.splitlines()[-6:]:
                print(f"      {line}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
