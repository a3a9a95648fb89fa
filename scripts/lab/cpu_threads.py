# cpu_threads (CPython twin of cpu_threads.toy): threads do not help CPU-bound bytecode. The
# same work split over 1, 2 or 4 threads takes as long as running it sequentially (or
# longer), because only the thread holding the GIL runs bytecode. Each configuration runs
# ROUNDS times, interleaved; the table shows the best time of each.
# Usage: python3 cpu_threads.py [quick]
import sys
import threading
import time

quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
WORK = 600000 if quick else 10000000
ROUNDS = 2 if quick else 3


def work(n):
    s = 0
    for i in range(n):
        s += i % 7
    return s


def run(k):
    t0 = time.perf_counter()
    if k == 0:
        work(WORK)
    else:
        ts = [threading.Thread(target=work, args=(WORK // k,)) for _ in range(k)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    return time.perf_counter() - t0


configs = [0, 1, 2, 4]
best = {}
for r in range(ROUNDS):
    for k in configs:
        t = run(k)
        if r == 0 or t < best[k]:
            best[k] = t

print(f"cpu_threads  policy cpython  work {WORK} iterations  best of {ROUNDS}")
print(f"{'configuration':<16} {'time s':>9} {'/ sequential':>13}")
for k in configs:
    name = "sequential" if k == 0 else f"{k} thread(s)"
    print(f"{name:<16} {best[k]:>9.3f} {best[k] / best[0]:>13.3f}")
print()
print(f"2 CPU-bound threads / same work sequential: {best[2] / best[0]:.3f}")
print(f"cpu_threads 4 threads / sequential: {best[4] / best[0]:.3f}")
