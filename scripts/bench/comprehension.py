# Measures: a list comprehension with a filter — [x * x for x in range(N) if x % 3], N = 1,000,000, ten times.
def squares(n):
    return [x * x for x in range(n) if x % 3]


total = 0
count = 0
for rep in range(10):
    xs = squares(1000000)
    count += len(xs)
    total += xs[len(xs) - 1]
print(count, total)
