# messages (CPython twin of messages.toy): a child process (multiprocessing, fork) receives
# COUNT messages of 10 B, 1 KB, 100 KB and 10 MB (str, pickled through a Pipe) and answers
# with the number of characters it got; throughput is the bytes over the time from the
# first send to that answer. Then small-message round trips per second, not pinned. Best
# of ROUNDS for each.
# Usage: python3 messages.py [quick]
import multiprocessing as mp
import sys
import time

quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
ROUNDS = 2 if quick else 3
SPAN = 0.25 if quick else 1.0
SIZES = [10, 1000, 100000, 10000000]
COUNT = {10: 5000, 1000: 2000, 100000: 50, 10000000: 2} if quick else \
    {10: 50000, 1000: 20000, 100000: 500, 10000000: 5}
NAMES = {10: "10 B", 1000: "1 KB", 100000: "100 KB", 10000000: "10 MB"}
ctx = mp.get_context("fork")
clock = time.perf_counter


def counter(ch):
    while True:
        n = ch.recv()
        if n is None:
            break
        total = 0
        for _ in range(n):
            total += len(ch.recv())
        ch.send(total)


def echo(ch):
    while True:
        v = ch.recv()
        if v is None:
            break
        ch.send(v)


def start(target):
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=target, args=(theirs,))
    proc.start()
    theirs.close()
    return mine, proc


ch, proc = start(counter)
rates = {}
for size in SIZES:
    message = "x" * size
    n = COUNT[size]
    best = None
    for _ in range(ROUNDS):
        t0 = clock()
        ch.send(n)
        for _ in range(n):
            ch.send(message)
        got = ch.recv()
        t = clock() - t0
        assert got == n * size, got
        best = t if best is None else min(best, t)
    rates[size] = n * size / best / 1e6
ch.send(None)
proc.join()

ch, proc = start(echo)
ch.send(0)
ch.recv()
k = 0
t0 = clock()
while clock() - t0 < SPAN:
    for _ in range(100):
        ch.send(k)
        ch.recv()
        k += 1
trips = k / (clock() - t0)
ch.send(None)
proc.join()

print("messages  CPython", sys.version.split()[0], " to a child process, best of", ROUNDS)
print(f"{'message size':<14}{'count':>8}{'MB/s':>10}")
for size in SIZES:
    print(f"{NAMES[size]:<14}{COUNT[size]:>8}{rates[size]:>10.1f}")
print(f"{'round trips':<14}{'':>8}{trips / 1000:>10.1f} k/s")
print()
for size in SIZES:
    print(f"messages {NAMES[size]} to a process (MB/s): {rates[size]:.1f}")
print(f"messages small round trips per second, unpinned (k): {trips / 1000:.1f}")
