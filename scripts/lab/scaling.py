# scaling (CPython twin of scaling.toy): the same total of CPU-bound work split over 1, 2,
# 4, 8, 16 and 64 threads, against running it sequentially; then the wake-up latency of a
# thread that naps 1 ms beside 1, 4 and 16 CPU-bound threads (p99 beyond the 1 ms); and
# what starting and ending a thread costs.
# Usage: python3 scaling.py [quick]
import sys
import threading
import time

quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
WORK = 600000 if quick else 6000000
ROUNDS = 2 if quick else 12
NAPS = 60 if quick else 300
SPAWN_ROUNDS = 3 if quick else 21
COUNTS = [1, 2, 4, 8, 16, 64]
CROWDS = [1, 4, 16]
clock = time.perf_counter


def work(n):
    s = 0
    for i in range(n):
        s += i % 7
    return s


def run(k):
    if k == 0:
        return work(WORK)
    ts = [threading.Thread(target=work, args=(WORK // k,)) for _ in range(k)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def seconds(f):
    t0 = clock()
    f()
    return clock() - t0


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p))]


stop = False


def spin():
    n = 0
    while not stop:
        n += 1
    return n


def naps_beside(crowd):
    global stop
    stop = False
    ts = [threading.Thread(target=spin) for _ in range(crowd)]
    for t in ts:
        t.start()
    time.sleep(0.01)
    lat = []
    for _ in range(NAPS):
        t0 = clock()
        time.sleep(0.001)
        lat.append(clock() - t0 - 0.001)
    stop = True
    for t in ts:
        t.join()
    lat.sort()
    return lat


wake = {c: naps_beside(c) for c in CROWDS}

# The fixed work after the naps, in the same order as scaling.toy, and measured the same
# way: each round runs every count beside a sequential run of its own, in turn first and
# second; a count's row is its fastest run over the fastest of its own sequential runs,
# and beside it the median of the rounds' paired ratios.
beside = {k: [] for k in COUNTS}
times = {k: [] for k in COUNTS}
ratios = {k: [] for k in COUNTS}
for r in range(ROUNDS):
    for k in COUNTS:
        if r % 2 == 0:
            s = seconds(lambda: run(0))
            t = seconds(lambda: run(k))
        else:
            t = seconds(lambda: run(k))
            s = seconds(lambda: run(0))
        beside[k].append(s)
        times[k].append(t)
        ratios[k].append(t / s)
for k in COUNTS:
    beside[k].sort()
    times[k].sort()
    ratios[k].sort()
ratio = {k: times[k][0] / beside[k][0] for k in COUNTS}


# What a thread costs to start and end, as in scaling.toy.
def nothing():
    return None


def spawn_round():
    ts = [threading.Thread(target=nothing) for _ in range(64)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


spawn_round()
spawn_us = sorted(seconds(spawn_round) / 64 * 1e6 for _ in range(SPAWN_ROUNDS))

print("scaling  CPython", sys.version.split()[0], " work", WORK, "iterations ", ROUNDS, "rounds, each count beside a sequential run")
print(f"{'threads':<12}{'best s':>9}{'beside s':>9}{'/ sequential':>13}{'paired median':>14}{'quartiles':>15}")
for k in COUNTS:
    spread = f"{pct(ratios[k], 0.25):.3f}-{pct(ratios[k], 0.75):.3f}"
    print(f"{str(k):<12}{times[k][0]:>9.3f}{beside[k][0]:>9.3f}{ratio[k]:>13.3f}{pct(ratios[k], 0.5):>14.3f}{spread:>15}")
print(f"{'spawn + join of a thread that returns at once, 64 at a time:':<62}{pct(spawn_us, 0.5):.1f} us")
print()
print(f"{'beside':<12}{'wake-up p50 ms':>15}{'p99 ms':>9}")
for c in CROWDS:
    print(f"{str(c) + ' CPU':<12}{pct(wake[c], 0.5) * 1000:>15.3f}{pct(wake[c], 0.99) * 1000:>9.3f}")
print()
for k in COUNTS:
    print(f"scaling {k} CPU-bound threads / sequential: {ratio[k]:.3f}")
    print(f"scaling {k} CPU-bound threads / sequential, median of paired rounds: {pct(ratios[k], 0.5):.3f}")
print(f"scaling worst of 1..64 threads / sequential: {max(ratio[k] for k in COUNTS):.3f}")
print(f"scaling spawn + join of a thread, 64 at a time (us): {pct(spawn_us, 0.5):.1f}")
for c in CROWDS:
    print(f"scaling wake-up p99 beside {c} CPU-bound threads (ms): {pct(wake[c], 0.99) * 1000:.3f}")
