# copy_cost (CPython twin of copy_cost.toy): processes copy data, threads share it. Sending
# a big list to a child process pickles it, writes every byte through a pipe and unpickles
# it on the other side; a thread just reads the same list in place. Rows: a thread reading
# the list in place (counting its items); a child that receives it and acknowledges (sends
# back its length); a child that receives it and reads it the same way. Times exclude the
# fork (the child is started first and waits). Bytes are what goes through the pipe: the
# pickle plus Connection's 4-byte header. Best of ROUNDS.
# Usage: python3 copy_cost.py [quick]
import multiprocessing as mp
import pickle
import sys
import threading
import time

quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
INTS = 200000 if quick else 1000000
STRS = 20000 if quick else 100000
ROUNDS = 2 if quick else 3
ctx = mp.get_context("fork")


def frame_size(v):
    return 4 + len(pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL))


def total(xs):
    """read every item (count the non-None ones)"""
    n = 0
    for x in xs:
        if x is not None:
            n += 1
    return n


def acker(ch):
    while True:
        v = ch.recv()
        if v is None:
            break
        ch.send(len(v))


def summer(ch):
    while True:
        v = ch.recv()
        if v is None:
            break
        ch.send(total(v))


def start(f):
    a, b = ctx.Pipe()
    p = ctx.Process(target=f, args=(b,))
    p.start()
    return p, a


def in_thread(data):
    t0 = time.perf_counter()
    result = []
    t = threading.Thread(target=lambda: result.append(total(data)))
    t.start()
    t.join()
    return time.perf_counter() - t0


def in_process(conn, data):
    t0 = time.perf_counter()
    conn.send(data)
    conn.recv()
    return time.perf_counter() - t0


if __name__ == "__main__":
    ints = list(range(INTS))
    strs = ["s" + str(i) for i in range(STRS)]
    datasets = [("1M ints", ints), ("100k strings", strs)]
    if quick:
        datasets = [(f"{INTS} ints", ints), (f"{STRS} strings", strs)]
    ack, ack_conn = start(acker)
    summ, sum_conn = start(summer)

    names = ["thread reads in place", "process, send + ack", "process, send + read"]
    best = {}
    for r in range(ROUNDS):
        for name, data in datasets:
            times = [in_thread(data), in_process(ack_conn, data), in_process(sum_conn, data)]
            for i, t in enumerate(times):
                key = (name, i)
                if r == 0 or t < best[key]:
                    best[key] = t
    ack_conn.send(None)
    sum_conn.send(None)
    ack.join()
    summ.join()

    print(f"copy_cost  policy cpython  best of {ROUNDS}")
    print(f"{'data':<14} {'how':<22} {'time ms':>9} {'bytes sent':>12} {'/ thread':>9}")
    for name, data in datasets:
        size = frame_size(data)
        for i in range(3):
            t = best[(name, i)]
            b = size if i > 0 else 0
            print(f"{name:<14} {names[i]:<22} {t * 1000:>9.2f} {b:>12,} {t / best[(name, 0)]:>8.1f}x")
    print()
    first = datasets[0][0]
    print(f"copy_cost 1M ints: process send + read / thread in place: {best[(first, 2)] / best[(first, 0)]:.2f}")
    print(f"copy_cost 1M ints: bytes sent: {frame_size(ints)}")
