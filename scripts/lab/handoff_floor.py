# handoff_floor: this machine's floor for scaling's wake-up rows, with no interpreter and no
# GIL. Processes pass one "token" round a ring: only its holder is busy, spinning for one
# switch interval (5 ms) before it hands the token on (a semaphore each) and sleeps until
# it comes back, so exactly one of them is busy at a time, as under a GIL. Beside them a
# thread naps 1 ms, NAPS times; its lateness beyond the 1 ms is what the operating system
# alone costs a thread waking beside CPU-bound work that changes hands. (Beside one busy
# process that never hands anything on, nothing is late: the change of hands is the cost.)
# Usage: python3 handoff_floor.py [quick]
import multiprocessing as mp
import sys
import time

quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
NAPS = 60 if quick else 300
RINGS = [1, 4, 16]
INTERVAL = 0.005
clock = time.perf_counter


def holder(stop, mine, after):
    while not stop.value:
        if not mine.acquire(timeout=0.1):
            continue
        until = clock() + INTERVAL
        while clock() < until:
            pass
        after.release()


def naps_beside(n):
    stop = mp.Value("b", False)
    tokens = [mp.Semaphore(0) for _ in range(n)]
    ring = [mp.Process(target=holder, args=(stop, tokens[i], tokens[(i + 1) % n])) for i in range(n)]
    for p in ring:
        p.start()
    tokens[0].release()
    time.sleep(0.05)
    late = []
    for _ in range(NAPS):
        t0 = clock()
        time.sleep(0.001)
        late.append(clock() - t0 - 0.001)
    stop.value = True
    for p in ring:
        p.join()
    late.sort()
    return late


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


if __name__ == "__main__":
    print(f"handoff_floor  a 1 ms nap beside processes passing one busy token every {INTERVAL * 1000:.0f} ms, {NAPS} naps")
    print(f"{'ring':<8}{'p50 ms':>9}{'p99 ms':>9}{'over 1 ms late':>16}")
    results = {}
    for n in RINGS:
        late = naps_beside(n)
        results[n] = late
        over = sum(1 for x in late if x > 0.001)
        print(f"{n:<8}{pct(late, 50) * 1000:>9.3f}{pct(late, 99) * 1000:>9.3f}{over:>16}")
    print()
    for n in RINGS:
        print(f"handoff_floor wake-up p99 beside {n} token-passing processes (ms): {pct(results[n], 99) * 1000:.3f}")
