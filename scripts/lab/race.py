# race (CPython twin of race.toy): shared state needs a lock. Two threads each add 1 to a
# global N times. Unlocked, updates are lost whenever a thread is switched out between
# reading x and writing it back; CPython 3.10+ switches only at backward jumps and calls,
# so `x = x + 1` rarely loses anything but a call between the read and the write does.
# With a Lock nothing is lost; the last rows show what the lock costs.
# Usage: python3 race.py [quick]
import sys
import threading
import time

quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
N = 60000 if quick else 300000

x = 0
lock = threading.Lock()


def nothing():
    return None


def plain(n):
    global x
    for i in range(n):
        x = x + 1


def read_call_write(n):
    global x
    for i in range(n):
        seen = x
        nothing()
        x = seen + 1


def locked(n):
    global x
    for i in range(n):
        with lock:
            x = x + 1


def locked_rcw(n):
    global x
    for i in range(n):
        with lock:
            seen = x
            nothing()
            x = seen + 1


def trial(f, threads):
    """run f in `threads` threads, N increments each; (final x, seconds)"""
    global x
    x = 0
    t0 = time.perf_counter()
    ts = [threading.Thread(target=f, args=(N,)) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return x, time.perf_counter() - t0


names = ["x = x + 1", "read, call, write", "x = x + 1, Lock", "read, call, write, Lock"]
# As in race.toy: the unlocked variants run up to 3 trials, the first that loses anything.
TRIALS = 3
results, trials = [], []
for f in (plain, read_call_write, locked, locked_rcw):
    r, k = trial(f, 2), 1
    while f in (plain, read_call_write) and r[0] == 2 * N and k < TRIALS:
        r, k = trial(f, 2), k + 1
    results.append(r)
    trials.append(k)
solo_plain = trial(plain, 1)
solo_locked = trial(locked, 1)

print(f"race  policy cpython  2 threads x {N} increments")
print(f"{'variant':<26} {'expected':>9} {'final':>9} {'lost':>9} {'time s':>8}")
for name, (final, secs) in zip(names, results):
    print(f"{name:<26} {2 * N:>9} {final:>9} {2 * N - final:>9} {secs:>8.3f}")
print(f"{'1 thread, x = x + 1':<26} {N:>9} {solo_plain[0]:>9} {N - solo_plain[0]:>9} {solo_plain[1]:>8.3f}")
print(f"{'1 thread, Lock':<26} {N:>9} {solo_locked[0]:>9} {N - solo_locked[0]:>9} {solo_locked[1]:>8.3f}")
print()
print(f"race lost updates, x = x + 1 (of 2N): {2 * N - results[0][0]}")
print(f"race x = x + 1 trials (up to 3, until one loses updates): {trials[0]}")
print(f"race lost updates, read-call-write (of 2N): {2 * N - results[1][0]}")
print(f"race read-call-write trials (up to 3, until one loses updates): {trials[1]}")
print(f"race lost updates with a Lock: {2 * N - results[2][0] + 2 * N - results[3][0]}")
print(f"race Lock cost, 2 threads locked / unlocked time: {results[2][1] / results[0][1]:.2f}")
print(f"race Lock cost per increment, 1 thread (ns): {(solo_locked[1] - solo_plain[1]) / N * 1e9:.0f}")
