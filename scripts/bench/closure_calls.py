# Measures: calling a closure that updates a captured variable — 5M calls, twice.
def make_accumulator():
    total = 0

    def acc(k):
        nonlocal total
        total += k
        return total

    return acc


def run(n):
    acc = make_accumulator()
    last = 0
    for i in range(n):
        last = acc(i)
    return last


total = 0
for rep in range(2):
    total += run(5_000_000)
print(total)
