# scaling (CPython twin of scaling.toy): the same total of CPU-bound work split over 1, 2,
# 4, 8, 16 and 64 threads, against running it sequentially; then the wake-up latency of a
# thread that naps 1 ms beside 1, 4 and 16 CPU-bound threads (p99 beyond the 1 ms).
# Usage: python3 scaling.py [quick]
import sys
import threading
import time

quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
WORK = 600000 if quick else 6000000
ROUNDS = 2 if quick else 3
NAPS = 60 if quick else 300
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


def best_of(rounds, runs):
    best = [None] * len(runs)
    for _ in range(rounds):
        for i, f in enumerate(runs):
            t0 = clock()
            f()
            t = clock() - t0
            best[i] = t if best[i] is None else min(best[i], t)
    return best


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

# The fixed work after the naps, in the same order as scaling.toy.
configs = [0] + COUNTS
times = best_of(ROUNDS, [lambda k=k: run(k) for k in configs])
best = dict(zip(configs, times))

print("scaling  CPython", sys.version.split()[0], " work", WORK, "iterations  best of", ROUNDS)
print(f"{'threads':<12}{'time s':>9}{'/ sequential':>13}")
for k in configs:
    name = "sequential" if k == 0 else str(k)
    print(f"{name:<12}{best[k]:>9.3f}{best[k] / best[0]:>13.3f}")
print()
print(f"{'beside':<12}{'wake-up p50 ms':>15}{'p99 ms':>9}")
for c in CROWDS:
    print(f"{str(c) + ' CPU':<12}{pct(wake[c], 0.5) * 1000:>15.3f}{pct(wake[c], 0.99) * 1000:>9.3f}")
print()
for k in COUNTS:
    print(f"scaling {k} CPU-bound threads / sequential: {best[k] / best[0]:.3f}")
print(f"scaling worst of 1..64 threads / sequential: {max(best[k] / best[0] for k in COUNTS):.3f}")
for c in CROWDS:
    print(f"scaling wake-up p99 beside {c} CPU-bound threads (ms): {pct(wake[c], 0.99) * 1000:.3f}")
