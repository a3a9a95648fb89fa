# Measures: a plain `while` loop with a counter and an accumulator — summing 0..10M, twice.
def sum_below(n):
    s = 0
    i = 0
    while i < n:
        s += i
        i += 1
    return s


total = 0
for rep in range(2):
    total += sum_below(10_000_000)
print(total)
