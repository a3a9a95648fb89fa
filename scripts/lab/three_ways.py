"""three_ways's CPython twin: the same map as ThreadPoolExecutor and ProcessPoolExecutor
(CPython 3.11 has no interpreters module, so that column stays empty), on CPU-bound work,
sleeps and a large input shipped to each worker; speedups over a plain map, each time the
best of ROUNDS, the rounds interleaved.
Usage: python3 three_ways.py [quick]"""
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

QUICK = len(sys.argv) > 1 and sys.argv[1] == "quick"
WORKERS = 2
CPU = 100000 if QUICK else 1000000
ITEMS = 8
SLEEP = 0.01 if QUICK else 0.05
BIG = 20000 if QUICK else 200000
ROUNDS = 1 if QUICK else 3
big = list(range(BIG))


def cpu(n):
    s = 0
    for i in range(CPU):
        s += (i * n) % 7
    return s


def io(n):
    time.sleep(SLEEP)
    return n


def ship(n):
    return len(big) + n


def time_of(f, items, pool):
    t0 = time.perf_counter()
    if pool is None:
        list(map(f, items))
    else:
        with pool(WORKERS) as ex:
            list(ex.map(f, items, chunksize=(len(items) + WORKERS - 1) // WORKERS))
    return time.perf_counter() - t0


if __name__ == "__main__":
    items = list(range(ITEMS))
    print(f"{'work':<24}{'threads':>12}{'processes':>12}")
    for name, f in [("cpu-bound", cpu), ("sleeps", io), ("large input", ship)]:
        best = [float("inf")] * 3
        for _ in range(ROUNDS):
            for k, pool in enumerate([None, ThreadPoolExecutor, ProcessPoolExecutor]):
                best[k] = min(best[k], time_of(f, items, pool))
        t = best[0] / best[1]
        p = best[0] / best[2]
        print(f"{name:<24}{t:>11.2f}x{p:>11.2f}x")
        print(f"{name} pmap threads speedup: {t:.3f}")
        print(f"{name} pmap processes speedup: {p:.3f}")
