# deadlock (CPython twin of deadlock.toy): the dining philosophers. N philosophers, a fork
# (a Lock) between each two, M meals each with both neighbouring forks. Taking the left
# fork first, with a barrier making sure all hold one fork on the first meal, every thread
# waits for the next one's fork forever: CPython has no deadlock detection, so the run
# hangs. It is given a timeout (daemon threads, joins with a deadline) and reported as
# hung. Taking the lower-numbered fork first, everyone eats.
# Usage: python3 deadlock.py [quick]
import sys
import threading
import time

quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
N = 5
M = 300 if quick else 2000
PATIENCE = 1.0 if quick else 2.0  # seconds before a run counts as hung
clock = time.perf_counter


def dine(first, second, seated):
    """[meals eaten, seconds, hung?]"""
    forks = [threading.Lock() for _ in range(N)]
    all_seated = threading.Barrier(N)
    meals = [0]
    count = threading.Lock()

    def philosopher(i):
        for meal in range(M):
            with forks[first(i)]:
                if seated and meal == 0:
                    all_seated.wait()
                with forks[second(i)]:
                    with count:
                        meals[0] += 1

    t0 = clock()
    ts = [threading.Thread(target=philosopher, args=(i,), daemon=True) for i in range(N)]
    for t in ts:
        t.start()
    deadline = t0 + PATIENCE
    for t in ts:
        t.join(max(deadline - clock(), 0))
    hung = any(t.is_alive() for t in ts)
    return meals[0], clock() - t0, hung


left = lambda i: i
right = lambda i: (i + 1) % N
lower = lambda i: min(i, (i + 1) % N)
higher = lambda i: max(i, (i + 1) % N)

unordered = dine(left, right, True)
ordered = dine(lower, higher, False)

print(f"deadlock  policy cpython  {N} philosophers x {M} meals")
print(f"{'variant':<28} {'meals':>8} {'of':>8} {'outcome':>8} {'time s':>8}")
for name, (meals, secs, hung) in [("left fork first", unordered), ("lower-numbered fork first", ordered)]:
    print(f"{name:<28} {meals:>8} {N * M:>8} {'hung' if hung else 'done':>8} {secs:>8.3f}")
print()
if unordered[2]:
    print(f"left fork first: hung, every philosopher still blocked after {PATIENCE} s, nothing reported")
print(f"deadlock unordered: reported (1) or hung (0): {0 if unordered[2] else 1}")
print(f"deadlock ordered: meals eaten, share of N*M: {ordered[0] / (N * M)}")
print(f"deadlock ordered: seconds: {ordered[1]:.3f}")
