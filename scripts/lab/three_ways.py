"""three_ways's CPython twin: the same map as ThreadPoolExecutor and ProcessPoolExecutor
(CPython 3.11 has no interpreters module, so that column stays empty), on CPU-bound work,
sleeps and a large input shipped to each worker; speedups over a plain map.
Usage: python3 three_ways.py [quick]"""
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

QUICK = len(sys.argv) > 1 and sys.argv[1] == "quick"
WORKERS = 2
CPU = 30000 if QUICK else 300000
ITEMS = 8
SLEEP = 0.01 if QUICK else 0.05
BIG = 20000 if QUICK else 200000
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
        base = time_of(f, items, None)
        t = base / time_of(f, items, ThreadPoolExecutor)
        p = base / time_of(f, items, ProcessPoolExecutor)
        print(f"{name:<24}{t:>11.2f}x{p:>11.2f}x")
        print(f"{name} pmap threads speedup: {t:.3f}")
        print(f"{name} pmap processes speedup: {p:.3f}")
