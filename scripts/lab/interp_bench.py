"""interp_bench's CPython twin: CPython 3.11 has no interpreters module, so only the
process anchors (multiprocessing): 2 CPU-bound processes vs sequential and spawn + join
of a trivial process. Usage: python3 interp_bench.py [quick]"""
import multiprocessing as mp
import sys
import time

QUICK = len(sys.argv) > 1 and sys.argv[1] == "quick"
SPAWNS = 20 if QUICK else 100
WORK = 300000 if QUICK else 3000000


def trivial():
    return None


def burn(n):
    s = 0
    for i in range(n):
        s += i % 7
    return s


if __name__ == "__main__":
    t0 = time.perf_counter()
    burn(WORK)
    burn(WORK)
    seq = time.perf_counter() - t0
    t0 = time.perf_counter()
    ps = [mp.Process(target=burn, args=(WORK,)) for _ in range(2)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    par = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(SPAWNS):
        p = mp.Process(target=trivial)
        p.start()
        p.join()
    spawn_ms = (time.perf_counter() - t0) / SPAWNS * 1000
    print(f"2 CPU-bound processes vs sequential (CPython): {seq / par:.3f}")
    print(f"spawn + join of a trivial process, CPython (ms): {spawn_ms:.4f}")
