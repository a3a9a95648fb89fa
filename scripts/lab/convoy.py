# convoy (CPython twin of convoy.toy): an I/O thread beside a CPU-bound thread. Every
# blocking call gives the GIL up; getting it back means waiting for the CPU-bound holder
# to drop it, up to a switch interval (5 ms) per blocking call, so a 20 us echo round trip
# can become a 5 ms one (the convoy effect). Measured: echo round trips to a server in
# another process (multiprocessing, fork), and the wake-up latency of a thread that sleeps
# 1 ms, each alone and beside a CPU-bound thread; and what the CPU-bound thread loses in
# exchange. CPython has one policy, comparable to toy's `interval`.
# Usage: python3 convoy.py [quick]
import multiprocessing as mp
import socket
import sys
import threading
import time

quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
SPAN = 0.3 if quick else 1.0
MAX_TRIPS = 5000
MAX_NAPS = 100 if quick else 300
clock = time.perf_counter


def echo_server(ch):
    l = socket.socket()
    l.bind(("127.0.0.1", 0))
    l.listen()
    ch.send(l.getsockname()[1])
    c, _ = l.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        s = c.recv(100)
        if not s:
            break
        c.sendall(s)
    c.close()


stop = False


def cpu(out):
    n = 0
    while not stop:
        n += 1
    out.append(n)


def round_trips(conn, span):
    """mean seconds per echo round trip, over at most `span` seconds"""
    k = 0
    t0 = clock()
    while k < MAX_TRIPS and clock() - t0 < span:
        conn.sendall(b"x")
        got = conn.recv(10)
        assert got == b"x", got
        k += 1
    return (clock() - t0) / k


def naps(span):
    """sorted wake-up latencies (seconds beyond the 1 ms asked for) of sleep(0.001)"""
    lat = []
    t_end = clock() + span
    while len(lat) < MAX_NAPS and clock() < t_end:
        t0 = clock()
        time.sleep(0.001)
        lat.append(clock() - t0 - 0.001)
    lat.sort()
    return lat


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def beside_cpu(f):
    """run f beside a CPU-bound thread; (f's result, the thread's iterations per second)"""
    global stop
    stop = False
    out = []
    t = threading.Thread(target=cpu, args=(out,))
    t.start()
    time.sleep(0.01)
    t0 = clock()
    r = f()
    stop = True
    t.join()
    return r, out[0] / (clock() - t0 + 0.01)


if __name__ == "__main__":
    ctx = mp.get_context("fork")
    a, b = ctx.Pipe()
    server = ctx.Process(target=echo_server, args=(b,))
    server.start()
    conn = socket.create_connection(("127.0.0.1", a.recv()))
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    rt_alone = round_trips(conn, SPAN / 3)
    rt = beside_cpu(lambda: round_trips(conn, SPAN))
    lat_alone = naps(SPAN / 3)
    lat = beside_cpu(lambda: naps(SPAN))
    stop = False
    out = []
    tc = threading.Thread(target=cpu, args=(out,))
    tc.start()
    time.sleep(SPAN / 2)
    stop = True
    tc.join()
    cpu_alone = out[0] / (SPAN / 2)
    conn.close()
    server.join()

    ms = 1000
    print(f"convoy  policy cpython  switch interval {sys.getswitchinterval() * ms} ms")
    print(f"{'measure':<34} {'alone':>10} {'beside CPU':>11} {'ratio':>9}")

    def row(name, x, y):
        print(f"{name:<34} {x:>10.3f} {y:>11.3f} {y / x:>8.1f}x")

    row("echo round trip (ms)", rt_alone * ms, rt[0] * ms)
    row("wake-up latency p50 (ms)", pct(lat_alone, 0.5) * ms, pct(lat[0], 0.5) * ms)
    row("wake-up latency p99 (ms)", pct(lat_alone, 0.99) * ms, pct(lat[0], 0.99) * ms)
    row("CPU thread, M iterations/s (echo)", cpu_alone / 1e6, rt[1] / 1e6)
    row("CPU thread, M iterations/s (naps)", cpu_alone / 1e6, lat[1] / 1e6)
    print()
    print(f"convoy: echo round trips beside a CPU-bound thread, slowdown vs alone: {rt[0] / rt_alone:.2f}")
    print(f"wake-up latency of a thread blocked 1 ms beside a CPU-bound thread, p99 (ms): {pct(lat[0], 0.99) * ms:.3f}")
    print(f"convoy CPU thread speed beside echo / alone: {rt[1] / cpu_alone:.3f}")
