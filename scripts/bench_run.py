#!/usr/bin/env python3
"""Timing helper for scripts/bench.sh: runs the benchmark programs in scripts/bench/ as whole
processes — toy, CPython and (if installed) Lua 5.4 taking turns, A B C A B C ... — checks that
their outputs agree, and prints the median wall times and peak memory, the ratios to CPython and
their geometric mean.

Each run is timed with time.perf_counter() from the start of the process until os.wait4() reaps
it, so a time includes process start-up and shut-down. The same wait4 returns the child's
resource usage, whose ru_maxrss is the run's peak resident set size (the most physical memory it
held at once). Linux keeps a process's peak across exec, so every child starts with the peak
of the process it was forked from, this driver (~10-15 MB): the table shows a peak no higher
than that floor, measured by running `true` the same way, as "<=floor". Exit status: 0 if every output matched, 1 if any program printed
something different from CPython, failed, or could not be run.
"""

import argparse
import math
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

# The thirteen programs of issue 7, in the order, then what later issues added.
PROGRAMS = [
    "fib",
    "while_sum",
    "nested_for",
    "join_pieces",
    "concat_pieces",
    "str_join",
    "list_index",
    "sparse_int_keys",
    "string_keys",
    "map_method_calls",
    "closure_calls",
    "nbody",
    "comprehension",
    "empty",
]

STARTUP = "empty"  # reported in milliseconds, left out of the geometric mean
STARTUP_RUNS_FACTOR = 10  # the start-up program is cheap: run it 10x as often
FLOOR = "true"  # the label of the no-op process timed beside the start-up program
TRUE = shutil.which("true")  # a process that does nothing: the floors of RSS and start-up
MB = 1e6  # peak memory is shown in megabytes


def shorten(text, limit=400):
    text = text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"
    return "\n".join("      | " + line for line in text.splitlines()) or "      | (nothing)"


class Impl:
    def __init__(self, label, ext, argv):
        self.label = label  # column title
        self.ext = ext  # file extension of its programs
        self.argv = argv  # command prefix; the program's path is appended


class Result:
    def __init__(self):
        self.times = []
        self.rss = []  # peak resident set size of each run, in bytes
        self.timed_out = False
        self.failed = None  # a message when the program failed or printed something wrong
        self.output = None

    def median(self):
        return statistics.median(self.times) if self.times else None

    def median_rss(self):
        return statistics.median(self.rss) if self.rss else None


def limit_memory(mb):
    """A preexec_fn capping the child's address space, so that a runaway program fails alone
    instead of pushing a shared machine into swap or the OOM killer."""
    if not mb:
        return None
    limit = mb * 1024 * 1024

    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def run_once(impl, path, timeout, mem_limit_mb):
    """Runs one process; returns (seconds, peak RSS in bytes, stdout, stderr, returncode), or
    None on a timeout.

    The child is reaped with os.wait4, not by subprocess, for its rusage: ru_maxrss is that one
    process's peak (RUSAGE_CHILDREN would be the peak over every child so far). Its output goes
    to temporary files, so nothing has to read pipes while the parent waits."""
    preexec = limit_memory(mem_limit_mb)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            impl.argv + [path],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            preexec_fn=preexec,
        )
        reaped = threading.Lock()  # held once the child is reaped: its pid may be reused
        timed_out = []

        def expire():
            with reaped:
                if proc.returncode is None:
                    timed_out.append(True)
                    proc.kill()

        timer = threading.Timer(timeout, expire)
        timer.start()
        try:
            while True:
                try:
                    _, status, usage = os.wait4(proc.pid, 0)
                    break
                except InterruptedError:
                    continue
            elapsed = time.perf_counter() - start
            with reaped:
                proc.returncode = os.waitstatus_to_exitcode(status)
        finally:
            timer.cancel()
        if timed_out:
            return None
        out.seek(0)
        err.seek(0)
        return (
            elapsed,
            usage.ru_maxrss * 1024,  # kilobytes on Linux
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            proc.returncode,
        )


def bench_program(name, impls, bench_dir, runs, timeout, mem_limit_mb, verbose):
    results = {impl.label: Result() for impl in impls}
    paths = {impl.label: os.path.join(bench_dir, f"{name}.{impl.ext}") for impl in impls}
    for rep in range(runs):
        for impl in impls:  # A B C, A B C, ...
            res = results[impl.label]
            if res.timed_out or res.failed:
                continue
            outcome = run_once(impl, paths[impl.label], timeout, mem_limit_mb)
            if outcome is None:
                res.timed_out = True
                print(f"  {name}: {impl.label} took over {timeout:g} s; its other runs are skipped",
                      file=sys.stderr)
                continue
            elapsed, rss, out, err, code = outcome
            if verbose:
                print(f"  {name} run {rep + 1} {impl.label}: {elapsed:.3f} s, "
                      f"{rss / MB:.1f} MB", file=sys.stderr)
            if code != 0:
                how = f"exited with code {code}"
                if code < 0:
                    try:
                        how = f"was killed by signal {-code} ({signal.Signals(-code).name})"
                    except ValueError:
                        how = f"was killed by signal {-code}"
                res.failed = f"{impl.label} {how}"
                print(f"FAIL {name}: {impl.label} ({' '.join(impl.argv)} {paths[impl.label]}) "
                      f"{how}; stderr:\n{shorten(err)}", file=sys.stderr)
                continue
            if res.output is None:
                res.output = out
            elif out != res.output:
                res.failed = f"{impl.label} printed different outputs on different runs"
                print(f"FAIL {name}: {impl.label} printed different outputs on different runs:\n"
                      f"    first run:\n{shorten(res.output)}\n    run {rep + 1}:\n{shorten(out)}",
                      file=sys.stderr)
                continue
            res.times.append(elapsed)
            res.rss.append(rss)
    # Every output is checked against CPython's.
    ref = results["CPython"]
    for impl in impls:
        res = results[impl.label]
        if impl.label == "CPython" or res.failed or res.output is None or ref.output is None:
            continue
        if res.output != ref.output:
            res.failed = f"{impl.label} output differs from CPython's"
            print(f"FAIL {name}: {impl.label} printed something different from CPython\n"
                  f"    {impl.label} ({paths[impl.label]}):\n{shorten(res.output)}\n"
                  f"    CPython ({paths['CPython']}):\n{shorten(ref.output)}", file=sys.stderr)
    return results


def cell_seconds(res, timeout, scale=1.0, digits=3):
    if res is None:
        return "-"
    if res.failed:
        return "FAIL"
    if res.timed_out:
        return f">{timeout * scale:g}"
    return f"{res.median() * scale:.{digits}f}"


def both_clean(res, ref):
    """Whether both results exist and neither failed nor timed out."""
    return not (res is None or ref is None or res.failed or ref.failed or res.timed_out or ref.timed_out)


def ratio_of(res, ref):
    """The ratio of medians res/ref, or None when either side has no clean measurement."""
    if not both_clean(res, ref) or not res.times or not ref.times:
        return None
    return res.median() / ref.median()


def cell_ratio(res, ref, timeout):
    if res is None:
        return "-"
    if res.failed or ref.failed:
        return "FAIL"
    if res.timed_out and not ref.timed_out and ref.times:
        return f">{timeout / ref.median():.0f}"
    r = ratio_of(res, ref)
    return "-" if r is None else f"{r:.2f}"


def rss_floor(mem_limit_mb):
    """The peak RSS a child reports when it does nothing: what it inherited from this process
    at the fork (see the module comment), started the way run_once starts programs."""
    if not TRUE:
        return 0
    proc = subprocess.Popen([TRUE], preexec_fn=limit_memory(mem_limit_mb))
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return usage.ru_maxrss * 1024


def cell_mb(res, floor=0):
    """A result's median peak memory in MB ("<=floor" when no more than the inherited floor)."""
    if res is None:
        return "-"
    if res.failed:
        return "FAIL"
    if res.timed_out or not res.rss:
        return "-"
    if res.median_rss() <= floor * 1.02:
        return f"<={floor / MB:.1f}"
    return f"{res.median_rss() / MB:.1f}"


def rss_ratio_of(res, ref):
    """The ratio of median peak memories res/ref, or None without a clean measurement."""
    if not both_clean(res, ref) or not res.rss or not ref.rss:
        return None
    return res.median_rss() / ref.median_rss()


def print_table(header, rows, align):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]

    def fmt(row):
        cells = [str(c).ljust(w) if a == "<" else str(c).rjust(w)
                 for c, w, a in zip(row, widths, align)]
        return "| " + " | ".join(cells) + " |"

    print(fmt(header))
    print("|" + "|".join(("-" * (w + 1) + ":") if a == ">" else (":" + "-" * (w + 1))
                         for w, a in zip(widths, align)) + "|")
    for row in rows:
        print(fmt(row))


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--toy", required=True, help="path of the toy binary")
    ap.add_argument("--bench-dir", required=True, help="directory holding NAME.toy/.py/.lua")
    ap.add_argument("-n", "--runs", type=int, default=5, help="runs of each implementation")
    ap.add_argument("-f", "--filter", action="append", default=[],
                    help="only programs whose name contains this (repeatable)")
    ap.add_argument("-m", "--mem-limit", type=int, default=4096,
                    help="address-space limit of each run in MiB (0: none); over it, the run fails")
    ap.add_argument("-t", "--timeout", type=float, default=30.0,
                    help="seconds before a run is abandoned (its other runs are then skipped)")
    ap.add_argument("--no-lua", action="store_true", help="leave Lua out even if installed")
    ap.add_argument("--baseline", help="another toy binary, run in turn with the others: "
                    "a before/after comparison in one run (column toy/base)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every run's time")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("-n must be at least 1")

    impls = [Impl("toy", "toy", [os.path.abspath(args.toy), "run"]),
             Impl("CPython", "py", ["python3"])]
    lua = None if args.no_lua else shutil.which("lua5.4")
    if lua:
        impls.append(Impl("Lua", "lua", [lua]))
    if args.baseline:
        impls.append(Impl("base", "toy", [os.path.abspath(args.baseline), "run"]))

    names = [p for p in PROGRAMS
             if not args.filter or any(f in p for f in args.filter)]
    if not names:
        print(f"no program matches {args.filter}; programs: {' '.join(PROGRAMS)}", file=sys.stderr)
        return 2

    print(f"toy: {args.toy}   CPython: {shutil.which('python3')}   "
          f"Lua: {lua or 'not used'}", file=sys.stderr)
    print(f"{args.runs} runs of each (start-up: {args.runs * STARTUP_RUNS_FACTOR}), "
          f"taking turns {' '.join(i.label for i in impls)} ...; timeout {args.timeout:g} s",
          file=sys.stderr)

    all_results = {}
    for name in names:
        have = [i for i in impls if os.path.exists(os.path.join(args.bench_dir, f"{name}.{i.ext}"))]
        missing = [i.label for i in impls if i not in have and i.label != "Lua"]
        if missing:
            print(f"FAIL {name}: missing {name}.{{toy,py}} for {', '.join(missing)}", file=sys.stderr)
            all_results[name] = None
            continue
        runs = args.runs * (STARTUP_RUNS_FACTOR if name == STARTUP else 1)
        print(f"  {name} ...", file=sys.stderr, flush=True)
        # No memory cap for the empty script: a preexec_fn makes subprocess fork this whole
        # Python process instead of using posix_spawn, which added ~3 ms to every start-up.
        mem_limit = None if name == STARTUP else args.mem_limit
        # Beside the empty script, `true` started and reaped the same way: what any process
        # costs on this host at this hour, the floor under every start-up time.
        if name == STARTUP and TRUE:
            have = have + [Impl(FLOOR, "toy", [TRUE])]
        all_results[name] = bench_program(name, have, args.bench_dir, runs, args.timeout,
                                          mem_limit, args.verbose)

    with_lua = lua is not None
    with_base = bool(args.baseline)
    floor = rss_floor(args.mem_limit)
    header = ["program", "toy s", "CPython s", "toy/CPython"]
    align = ["<", ">", ">", ">"]
    if with_lua:
        header += ["Lua s", "Lua/CPython"]
        align += [">", ">"]
    if with_base:
        header += ["base s", "toy/base"]
        align += [">", ">"]
    header += ["toy MB", "CPython MB", "toy/CPython MB"]
    align += [">", ">", ">"]
    if with_lua:
        header += ["Lua MB"]
        align += [">"]
    if with_base:
        header += ["base MB", "toy/base MB"]
        align += [">", ">"]
    rows, toy_ratios, lua_ratios, base_ratios = [], [], [], []
    rss_ratios, base_rss_ratios = [], []
    failed, excluded = [], []
    for name in names:
        res = all_results[name]
        if res is None or any(r.failed for r in res.values()):
            failed.append(name)
        if name == STARTUP or res is None:
            continue
        toy, py, lu = res["toy"], res["CPython"], res.get("Lua")
        row = [name, cell_seconds(toy, args.timeout), cell_seconds(py, args.timeout),
               cell_ratio(toy, py, args.timeout)]
        if with_lua:
            row += [cell_seconds(lu, args.timeout), cell_ratio(lu, py, args.timeout) if lu else "-"]
        base = res.get("base")
        if with_base:
            row += [cell_seconds(base, args.timeout), cell_ratio(toy, base, args.timeout) if base else "-"]
            r = ratio_of(toy, base)
            if r is not None:
                base_ratios.append(r)
        r = rss_ratio_of(toy, py)
        row += [cell_mb(toy, floor), cell_mb(py, floor), "-" if r is None else f"{r:.2f}"]
        if r is not None:
            rss_ratios.append(r)
        if with_lua:
            row += [cell_mb(lu, floor)]
        if with_base:
            r = rss_ratio_of(toy, base)
            row += [cell_mb(base, floor), "-" if r is None else f"{r:.2f}"]
            if r is not None:
                base_rss_ratios.append(r)
        rows.append(row)
        r = ratio_of(toy, py)
        if r is not None:
            toy_ratios.append(r)
        else:
            excluded.append(name)
        r = ratio_of(lu, py)
        if r is not None:
            lua_ratios.append(r)

    print()
    if rows:
        gm_row = ["geometric mean", "", "",
                  f"{geomean(toy_ratios):.2f}" if toy_ratios else "-"]
        if with_lua:
            gm_row += ["", f"{geomean(lua_ratios):.2f}" if lua_ratios else "-"]
        if with_base:
            gm_row += ["", f"{geomean(base_ratios):.3f}" if base_ratios else "-"]
        gm_row += ["", "", f"{geomean(rss_ratios):.2f}" if rss_ratios else "-"]
        if with_lua:
            gm_row += [""]
        if with_base:
            gm_row += ["", f"{geomean(base_rss_ratios):.3f}" if base_rss_ratios else "-"]
        print_table(header, rows + [gm_row], align)
        print()
        print(f"Times are medians of {args.runs} runs of each whole process (wall clock); "
              "ratios are of medians, below 1 means faster than CPython. MB is the median "
              "of each run's peak resident set size (ru_maxrss), in megabytes; a child "
              f"inherits this driver's {floor / MB:.1f} MB at the fork, so \"<=\" marks a "
              "peak no higher than that.")
        n_lua = len([n for n in names if n != STARTUP and all_results.get(n)
                     and "Lua" in all_results[n]])
        note = f"Geometric mean of toy/CPython over {len(toy_ratios)} programs"
        if excluded:
            note += f" (left out, no clean measurement: {', '.join(excluded)})"
        if with_lua:
            note += f"; of Lua/CPython over {len(lua_ratios)} of {n_lua}"
        print(note + ".")
    if STARTUP in names and all_results.get(STARTUP):
        res = all_results[STARTUP]
        parts = [f"{label} {cell_seconds(res.get(label), args.timeout, 1000.0, 1)} ms"
                 for label in [i.label for i in impls] if label in res]
        floor_note = ""
        if FLOOR in res:
            floor_note = (f"; a process doing nothing (`true`, in turn with them) "
                          f"{cell_seconds(res[FLOOR], args.timeout, 1000.0, 1)} ms")
        print(f"Start-up (empty script, median of {args.runs * STARTUP_RUNS_FACTOR} runs): "
              + ", ".join(parts) + floor_note + ".")
    timed_out = [f"{name} ({', '.join(label for label, r in all_results[name].items() if r.timed_out)})"
                 for name in names
                 if all_results.get(name) and any(r.timed_out for r in all_results[name].values())]
    if timed_out:
        print(f"Over the {args.timeout:g} s limit (output not checked): {'; '.join(timed_out)}.")
    if failed:
        print(f"\nFAILED ({len(failed)}): {', '.join(failed)} — see the messages above.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
