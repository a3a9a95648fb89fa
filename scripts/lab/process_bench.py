# process_bench (CPython twin of process_bench.toy): what processes cost, with
# multiprocessing and fork. The issue-4 measures: spawning and joining a trivial process,
# small-message round trips with a child over a Pipe, and sending 1,000,000 ints and
# 100,000 short strings to a child that acknowledges each list. (CPU-bound work in 2
# processes vs sequential is measured by cpu_processes.) Lists are built before the clock
# starts; the child is already running. Best of ROUNDS where repeated.
# Usage: python3 process_bench.py [quick]
import multiprocessing as mp
import os
import sys
import time

quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
SPAWNS = 20 if quick else 100
SPAN = 0.25 if quick else 1.0
ROUNDS = 2 if quick else 5
ctx = mp.get_context("fork")
clock = time.perf_counter


def trivial():
    return None


def echo(ch):
    while True:
        v = ch.recv()
        if v is None:
            break
        ch.send(v)


def acker(ch):
    while True:
        v = ch.recv()
        if v is None:
            break
        ch.send(len(v))


def start(f):
    a, b = ctx.Pipe()
    p = ctx.Process(target=f, args=(b,))
    p.start()
    return p, a


if __name__ == "__main__":
    # spawn + join
    p = ctx.Process(target=trivial)
    p.start()
    p.join()
    t0 = clock()
    for _ in range(SPAWNS):
        p = ctx.Process(target=trivial)
        p.start()
        p.join()
    spawn_ms = (clock() - t0) / SPAWNS * 1000

    # small-message round trips
    p, c = start(echo)
    c.send(0)
    c.recv()
    k = 0
    t0 = clock()
    while clock() - t0 < SPAN:
        for _ in range(100):
            c.send(k)
            c.recv()
            k += 1
    trips = k / (clock() - t0)
    c.send(None)
    p.join()

    # big lists, with acknowledgement
    ints = list(range(1000000))
    strs = ["s" + str(i) for i in range(100000)]
    a, ac = start(acker)

    def send_ack(data):
        best = float("inf")
        for _ in range(ROUNDS):
            t0 = clock()
            ac.send(data)
            n = ac.recv()
            best = min(best, clock() - t0)
            assert n == len(data), n
        return best

    ints_s = send_ack(ints)
    strs_s = send_ack(strs)
    ac.send(None)
    a.join()

    print(f"process_bench  policy cpython  cpu_count {os.cpu_count()}")
    print(f"{'measure':<48} {'value':>10}  unit")
    print(f"{'spawn + join of a trivial process':<48} {spawn_ms:>10.3f}  ms")
    print(f"{'small-message round trips':<48} {trips / 1000:>10.1f}  k/s")
    print(f"{'1,000,000 ints parent -> child, with ack':<48} {ints_s:>10.4f}  s")
    print(f"{'100,000 short strings parent -> child, with ack':<48} {strs_s:>10.4f}  s")
    print()
    print(f"spawn + join of a trivial process (ms): {spawn_ms:.3f}")
    print(f"small-message round trips per second (k): {trips / 1000:.1f}")
    print(f"1,000,000 ints parent -> child, with acknowledgement (s): {ints_s:.4f}")
    print(f"100,000 short strings parent -> child (s): {strs_s:.4f}")
