# Measures: calling a method of an object that updates one of its fields (the Python twin of
# toy's function stored in a map) — 5M calls of `c.add(i)`, twice.
class Counter:
    def __init__(self):
        self.count = 0

    def add(self, k):
        self.count += k


def run(n):
    c = Counter()
    for i in range(n):
        c.add(i)
    return c.count


total = 0
for rep in range(2):
    total += run(5_000_000)
print(total)
