# io_threads (CPython twin of io_threads.toy): threads help I/O-bound work. 50 sleeps, and
# 50 clients of a slow echo server, take about as long as one of them when each runs in its
# own thread, because every blocking call releases the GIL.
# Usage: python3 io_threads.py [quick]
import socket
import sys
import threading
import time

quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
N = 50
NAP = 0.02 if quick else 0.1
DELAY = 0.01 if quick else 0.05


def nap():
    time.sleep(NAP)


server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(128)
port = server.getsockname()[1]


def handle(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        s = conn.recv(100)
        if not s:
            break
        time.sleep(DELAY)
        conn.sendall(s)
    conn.close()


def serve(n):
    hs = []
    for _ in range(n):
        conn, _ = server.accept()
        h = threading.Thread(target=handle, args=(conn,))
        h.start()
        hs.append(h)
    for h in hs:
        h.join()


def client():
    c = socket.create_connection(("127.0.0.1", port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sendall(b"ping")
    got = b""
    while len(got) < 4:
        got += c.recv(100)
    c.close()
    assert got == b"ping", got


def sequential(f, n):
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return time.perf_counter() - t0


def threaded(f, n):
    t0 = time.perf_counter()
    ts = [threading.Thread(target=f) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0


acceptor = threading.Thread(target=serve, args=(2 * N,))
acceptor.start()
sleep_seq = sequential(nap, N)
sleep_thr = threaded(nap, N)
echo_seq = sequential(client, N)
echo_thr = threaded(client, N)
acceptor.join()

print(f"io_threads  policy cpython  N = {N}  sleep {NAP} s  server delay {DELAY} s")
print(f"{'workload':<24} {'sequential s':>13} {'threads s':>11} {'speedup':>9}")


def row(name, s, t):
    print(f"{name:<24} {s:>13.3f} {t:>11.3f} {s / t:>8.1f}x")


row(f"{N} sleeps", sleep_seq, sleep_thr)
row(f"{N} slow-echo clients", echo_seq, echo_thr)
print()
print(f"50 threads each sleep(0.1): speedup over sequential: {sleep_seq / sleep_thr:.2f}")
print(f"io_threads 50 echo clients: speedup over sequential: {echo_seq / echo_thr:.2f}")
