# native_threads (CPython twin of native_threads.toy): native code that releases the GIL
# runs in parallel. Two threads each hashing a big buffer with hashlib.sha256 (or
# compressing it with zlib) finish in about the time of one call, and a bytecode loop keeps
# running beside a native call: both release the GIL while they work on more than 2 KiB.
# (CPython has no switch to make them keep the GIL.) Best of ROUNDS interleaved runs.
# Usage: python3 native_threads.py [quick]
import hashlib
import sys
import threading
import time
import zlib

quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
TARGET = 0.06 if quick else 0.2
ROUNDS = 1 if quick else 2

# Calibrate: hash an 8 MiB buffer REPS times per call, REPS chosen so that one call takes
# TARGET seconds; compress a slice of it that takes about as long.
buf = bytes(range(256)) * (8 << 12)
t0 = time.perf_counter()
hashlib.sha256(buf).digest()
REPS = max(1, round(TARGET / (time.perf_counter() - t0)))
t0 = time.perf_counter()
zlib.compress(buf[: 1 << 20], 6)
ZREPS = max(1, round(TARGET / (time.perf_counter() - t0)))
zbuf = buf[: 1 << 20]


def primes():
    h = hashlib.sha256()
    for _ in range(REPS):
        h.update(buf)
    return h.hexdigest()


def spin():
    n = 0
    for _ in range(ZREPS):
        n += len(zlib.compress(zbuf, 6))
    return n


def loop(n):
    s = 0
    for i in range(n):
        s += i % 7
    return s


LOOP = 100000
t0 = time.perf_counter()
loop(LOOP)
LOOP = int(LOOP * TARGET / (time.perf_counter() - t0))


def bytecode():
    return loop(LOOP)


def sequential(f, g):
    t0 = time.perf_counter()
    f()
    g()
    return time.perf_counter() - t0


def threaded(f, g):
    t0 = time.perf_counter()
    a = threading.Thread(target=f)
    b = threading.Thread(target=g)
    a.start()
    b.start()
    a.join()
    b.join()
    return time.perf_counter() - t0


names = ["sha256 x2", "zlib.compress x2", "bytecode + sha256"]
pairs = [(primes, primes), (spin, spin), (bytecode, primes)]
seq, thr = [], []
for r in range(ROUNDS):
    for i, (f, g) in enumerate(pairs):
        s = sequential(f, g)
        t = threaded(f, g)
        if r == 0:
            seq.append(s)
            thr.append(t)
        else:
            seq[i] = min(seq[i], s)
            thr[i] = min(thr[i], t)

print(f"native_threads  policy cpython  sha256 of {REPS} x 8 MiB  zlib of {ZREPS} x 1 MiB  best of {ROUNDS}")
print(f"{'workload':<24} {'sequential s':>13} {'2 threads s':>12} {'speedup':>9}")
for i, name in enumerate(names):
    print(f"{name:<24} {seq[i]:>13.3f} {thr[i]:>12.3f} {seq[i] / thr[i]:>8.2f}x")
print()
print(f"native 2 threads speedup over sequential: {seq[0] / thr[0]:.3f}")
print(f"native_threads bytecode beside native speedup: {seq[2] / thr[2]:.3f}")
