# Measures: list append and indexing — append 5M ints to a list, then sum them by index, twice.
def fill_and_sum(n):
    xs = []
    for i in range(n):
        xs.append(i)
    s = 0
    for i in range(len(xs)):
        s += xs[i]
    return s


total = 0
for rep in range(2):
    total += fill_and_sum(5_000_000)
print(total)
