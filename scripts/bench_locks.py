#!/usr/bin/env python3
"""Runs scripts/bench_locks.toy on two toy binaries in turn (A B A B ...) and prints, for
each measure, the median of each and their ratio: what a change costs on the lock paths.

usage: python3 scripts/bench_locks.py BASE_TOY [NEW_TOY] [-n RUNS] [--quick]
NEW_TOY defaults to target/<host triple>/release/toy, where cargo builds it. Times are per
operation (lower is better)."""

import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "bench_locks.toy")
LINE = re.compile(r"^(.*\S):\s+(\S+)\s*$")


def run(toy, quick):
    argv = [toy, "run", SCRIPT] + (["quick"] if quick else [])
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=True).stdout
    return {m.group(1): float(m.group(2)) for m in map(LINE.match, out.splitlines()) if m}


def built_toy():
    """Where `cargo build --release` puts toy: .cargo/config.toml names the host as the
    target, so under the host's triple."""
    info = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    host = next(line.split()[1] for line in info.splitlines() if line.startswith("host:"))
    return os.path.join(os.path.dirname(HERE), "target", host, "release", "toy")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base")
    ap.add_argument("new", nargs="?", default=built_toy())
    ap.add_argument("-n", type=int, default=7, help="runs of each binary")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    results = {"base": [], "new": []}
    for i in range(args.n):
        for key, toy in (("base", args.base), ("new", args.new)):
            results[key].append(run(toy, args.quick))
        print(f"  run {i + 1}/{args.n} done", file=sys.stderr, flush=True)
    labels = list(results["new"][0])
    print(f"{'measure':<52} {'base':>10} {'new':>10} {'new/base':>9}")
    for label in labels:
        base = statistics.median(r[label] for r in results["base"])
        new = statistics.median(r[label] for r in results["new"])
        print(f"{label:<52} {base:>10.2f} {new:>10.2f} {new / base:>9.3f}")
    print(f"(medians of {args.n} interleaved runs each; load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
