#!/usr/bin/env bash
# The GIL laboratory: runs every experiment in scripts/lab/ on python3 (NAME.py) and on
# toy (NAME.toy, under each of the five GIL policies where the policy matters) and prints
# one side-by-side table — the seed's claims and the issues' targets, measured on this
# machine. Under the 50-sleeping-threads row it puts this machine's floor for it: the same
# sleeps in plain Rust threads (benches/spawn_floor.rs, no interpreter, no GIL). Every
# script's own table goes to a log file named at the end.
#
#   scripts/lab.sh            full sizes (about 2.5 minutes on 2 cores)
#   scripts/lab.sh -q         quick: smaller sizes, for a smoke test (not the issues' measures)
#   scripts/lab.sh -o FILE    write the log (every script's own table) to FILE
#   scripts/lab.sh -e a,b     only these experiments (names of scripts/lab/*.toy, and
#                             spawn_floor for the floor)
#   scripts/lab.sh -c a,b     only these columns (cpython, interval, ticks, fifo, priority,
#                             deadline), e.g. -c deadline -e cpu_threads,convoy,fairness
#
# Needs bash, python3, rustc (for the floor) and (to build toy if needed) cargo.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

args=()
while getopts "qo:e:c:h" opt; do
    case "$opt" in
        q) args+=(--quick) ;;
        o) args+=(--log "$OPTARG") ;;
        e) args+=(--only "$OPTARG") ;;
        c) args+=(--columns "$OPTARG") ;;
        h) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: scripts/lab.sh [-q] [-o LOG] [-e EXPERIMENTS] [-c COLUMNS]" >&2; exit 2 ;;
    esac
done

# .cargo/config.toml names the host as the target, so cargo builds under its triple.
toy="$root/target/$(rustc -vV | sed -n 's/^host: //p')/release/toy"
# Build in release mode when the binary is missing or older than any source.
if [[ ! -x "$toy" ]] || [[ -n "$(find src grammar build.rs Cargo.toml Cargo.lock -newer "$toy" -print -quit 2>/dev/null)" ]]; then
    echo "building toy (cargo build --release) ..." >&2
    cargo build --release >&2
fi

exec python3 "$root/scripts/lab_table.py" --toy "$toy" "${args[@]+"${args[@]}"}"
