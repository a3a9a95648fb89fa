#!/usr/bin/env bash
# Benchmarks toy against CPython (and Lua 5.4 if installed) on the programs in scripts/bench/
# (issue 7): each program runs as a whole process, the implementations take turns
# (A B C A B C ...), the outputs must match CPython's, and the table shows median times, the
# ratios to CPython and their geometric mean, and each program's peak memory (max RSS, median
# over the runs) beside CPython's. Exits non-zero if any output mismatched.
#
# usage: scripts/bench.sh [-n RUNS] [-f NAME]... [-t SECONDS] [-m MIB] [-L] [-v] [-g]
#   -n RUNS     runs of each implementation per program (default 5; start-up runs 10x that)
#   -f NAME     only programs whose name contains NAME (repeatable)
#   -t SECONDS  abandon a run after this long and skip that implementation's other runs
#               for that program (default 30)
#   -L          leave Lua out even if lua5.4 is installed
#   -b TOY      another toy binary (an older build, say) run in turn with the others, for
#               a before/after column toy/base measured in the same run
#   -v          print the time of every run
#   -g          then the GIL's measures (issue 3): 2 CPU-bound threads, 50 sleeping threads
#               (and this machine's floor for them, plain OS threads), the convoy, wake-up
#               latency and fairness, each script beside its CPython twin under all four
#               policies, as one table (scripts/lab.sh -e ...; ~2 min)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
# .cargo/config.toml names the host as the target, so cargo builds under its triple.
toy="$root/target/$(rustc -vV | sed -n 's/^host: //p')/release/toy"

runs=5
timeout=30
extra=()
gil=0
while getopts ":n:f:t:m:b:Lvgh" opt; do
    case "$opt" in
        n) runs="$OPTARG" ;;
        f) extra+=(-f "$OPTARG") ;;
        t) timeout="$OPTARG" ;;
        m) extra+=(-m "$OPTARG") ;;
        L) extra+=(--no-lua) ;;
        b) extra+=(--baseline "$OPTARG") ;;
        v) extra+=(-v) ;;
        g) gil=1 ;;
        h) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        :) echo "bench.sh: -$OPTARG needs a value" >&2; exit 2 ;;
        *) echo "bench.sh: unknown option -$OPTARG (try -h)" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
if [ $# -gt 0 ]; then
    echo "bench.sh: unexpected argument '$1' (try -h)" >&2
    exit 2
fi

# Build toy in release mode if needed (cargo does nothing when the binary is up to date).
if command -v cargo >/dev/null 2>&1; then
    (cd "$root" && cargo build --release --quiet)
elif [ ! -x "$toy" ]; then
    echo "bench.sh: $toy is missing and cargo is not installed to build it" >&2
    exit 2
fi

status=0
python3 "$here/bench_run.py" --toy "$toy" --bench-dir "$here/bench" \
    -n "$runs" -t "$timeout" ${extra[@]+"${extra[@]}"} || status=$?
if [ "$gil" = 1 ]; then
    echo
    "$here/lab.sh" -e cpu_threads,io_threads,spawn_floor,convoy,fairness || status=$?
fi
exit "$status"

