# fairness (CPython twin of fairness.toy): who gets the GIL. Four CPU-bound threads run for
# 2 s, each counting its loop iterations; how evenly those counts come out shows how fairly
# CPython hands the GIL around (a dropping holder waits until another thread has taken it,
# like toy's `interval`). Jain's index (sum x)^2 / (n * sum x^2) is 1.0 when all get the
# same and 1/n when one gets everything.
# Usage: python3 fairness.py [quick]
import sys
import threading
import time

quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
THREADS = 4
SPAN = 0.5 if quick else 2.0

gate = threading.Lock()
stop = False
counts = [0] * THREADS


def spinner(i):
    with gate:  # start together: main holds the gate until all are started
        pass
    n = 0
    while not stop:
        n += 1
    counts[i] = n


gate.acquire()
ts = [threading.Thread(target=spinner, args=(i,)) for i in range(THREADS)]
for t in ts:
    t.start()
t0 = time.perf_counter()
gate.release()
time.sleep(SPAN)
stop = True
for t in ts:
    t.join()
elapsed = time.perf_counter() - t0

total = sum(counts)
jain = total * total / (THREADS * sum(c * c for c in counts))

print(f"fairness  policy cpython  {THREADS} CPU-bound threads for {SPAN} s")
print(f"{'thread':<8} {'M iterations':>13} {'share %':>9}")
for i, c in enumerate(counts):
    print(f"{i + 1:<8} {c / 1e6:>13.3f} {100 * c / total:>9.1f}")
print(f"{'all':<8} {total / 1e6:>13.3f} {100.0:>9.1f}")
print()
print(f"4 CPU-bound threads for 2 s: Jain fairness of their iteration counts: {jain:.4f}")
print(f"fairness min / max iterations: {min(counts) / max(counts):.3f}")
print(f"fairness total M iterations per s: {total / 1e6 / elapsed:.2f}")
