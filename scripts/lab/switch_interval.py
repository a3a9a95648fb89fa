# switch_interval (CPython twin of switch_interval.toy): the cost and the latency of the
# switch interval (sys.setswitchinterval). A short interval means many GIL hand-offs
# between two CPU-bound threads (overhead: their time over the same work done
# sequentially), a long one means a thread back from a 1 ms sleep waits up to a whole
# interval for a CPU-bound holder to let go (latency: median and p90 of the time beyond
# the 1 ms). CPython does not count its switches: that column is "-".
# Times are the best of ROUNDS interleaved runs.
# Usage: python3 switch_interval.py [quick]
import sys
import threading
import time

quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
WORK = 800000 if quick else 4000000
ROUNDS = 1 if quick else 2
SPAN = 0.15 if quick else 0.4
MAX_NAPS = 20 if quick else 60
INTERVALS_MS = [0.1, 0.5, 1, 5, 10, 50]
clock = time.perf_counter


def work(n):
    s = 0
    for i in range(n):
        s += i % 7
    return s


def two_threads():
    ts = [threading.Thread(target=work, args=(WORK // 2,)) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


stop = False


def cpu():
    n = 0
    while not stop:
        n += 1


def naps(span):
    lat = []
    t_end = clock() + span
    while len(lat) < MAX_NAPS and clock() < t_end:
        t0 = clock()
        time.sleep(0.001)
        lat.append(clock() - t0 - 0.001)
    lat.sort()
    return lat


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p))]


rows = []
for ms in INTERVALS_MS:
    sys.setswitchinterval(ms / 1000)
    # best of ROUNDS, sequential and threaded interleaved
    seq = thr = float("inf")
    for r in range(ROUNDS):
        t0 = clock()
        work(WORK)
        seq = min(seq, clock() - t0)
        t0 = clock()
        two_threads()
        thr = min(thr, clock() - t0)
    stop = False
    c = threading.Thread(target=cpu)
    c.start()
    time.sleep(0.005)
    lat = naps(SPAN)
    stop = True
    c.join()
    rows.append((ms, thr / seq, pct(lat, 0.5) * 1000, pct(lat, 0.9) * 1000))

print(f"switch_interval  policy cpython  2 threads x {WORK // 2} iterations; wake-ups from sleep(1 ms) beside a CPU-bound thread")
print(f"{'interval ms':>11} {'2 thr / seq':>12} {'switches/s':>11} {'wake p50 ms':>12} {'wake p90 ms':>12}")
for ms, ratio, p50, p90 in rows:
    print(f"{ms:>11.1f} {ratio:>12.3f} {'-':>11} {p50:>12.3f} {p90:>12.3f}")
print()
print(f"switch_interval 0.1 ms: 2 threads / sequential time: {rows[0][1]:.3f}")
print(f"switch_interval 50 ms: 2 threads / sequential time: {rows[5][1]:.3f}")
print(f"switch_interval 0.1 ms: wake-up latency p50 (ms): {rows[0][2]:.3f}")
print(f"switch_interval 50 ms: wake-up latency p50 (ms): {rows[5][2]:.3f}")
