# cpu_processes (CPython twin of cpu_processes.toy): processes do help CPU-bound bytecode,
# threads do not (CPython 3.11 has no interpreters to start, so the toy rows for them have
# no twin here).
# Each forked process has its own interpreter and its own GIL, so the same work split over
# 2 processes (multiprocessing.Process with fork, or Pool(2).map) runs up to twice as fast
# as sequentially on 2 cores. Best of ROUNDS interleaved runs; the time includes forking
# and collecting the results.
# Usage: python3 cpu_processes.py [quick]
import multiprocessing as mp
import os
import sys
import threading
import time

quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
WORK = 1200000 if quick else 6000000
ROUNDS = 2 if quick else 3
ctx = mp.get_context("fork")


def work(lo, hi):
    s = 0
    for i in range(lo, hi):
        s += i % 7
    return s


def work_part(part):
    return work(part[0], part[1])


def parts(k):
    """k equal parts of range(WORK)"""
    return [[WORK * i // k, WORK * (i + 1) // k] for i in range(k)]


def child(conn, part):
    conn.send(work_part(part))
    conn.close()


def sequential():
    return work(0, WORK)


def processes(k):
    ps = []
    for part in parts(k):
        a, b = ctx.Pipe()
        p = ctx.Process(target=child, args=(b, part))
        p.start()
        ps.append((p, a))
    s = 0
    for p, a in ps:
        s += a.recv()
        p.join()
    return s


def threads(k):
    results = []
    ts = [threading.Thread(target=lambda p=p: results.append(work_part(p))) for p in parts(k)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(results)


def with_pmap(k):
    with ctx.Pool(k) as pool:
        # 4 chunks for 2 workers: handed out as workers come free
        return sum(pool.map(work_part, parts(2 * k), chunksize=1))


if __name__ == "__main__":
    names = ["sequential", "2 spawn (threads)", "2 spawn_process", "4 spawn_process", "pmap, 2 processes"]
    runs = [sequential, lambda: threads(2), lambda: processes(2), lambda: processes(4), lambda: with_pmap(2)]
    best = []
    expect = work(0, WORK)
    for r in range(ROUNDS):
        for i, f in enumerate(runs):
            t0 = time.perf_counter()
            got = f()
            t = time.perf_counter() - t0
            assert got == expect, (names[i], got)
            if r == 0:
                best.append(t)
            elif t < best[i]:
                best[i] = t

    print(f"cpu_processes  policy cpython  work {WORK} iterations  best of {ROUNDS}  cpu_count {os.cpu_count()}")
    print(f"{'configuration':<22} {'time s':>9} {'speedup':>9}")
    for i, name in enumerate(names):
        print(f"{name:<22} {best[i]:>9.3f} {best[0] / best[i]:>8.2f}x")
    print()
    print(f"CPU-bound work in 2 threads vs sequential: {best[0] / best[1]:.3f}")
    print(f"CPU-bound work in 2 processes vs sequential: {best[0] / best[2]:.3f}")
    print(f"cpu_processes pmap 2 workers vs sequential: {best[0] / best[4]:.3f}")
