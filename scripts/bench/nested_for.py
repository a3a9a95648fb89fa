# Measures: nested `for` loops over ranges — 3000 x 3000 iterations of `s += i * j`, twice.
def grid_sum(n):
    s = 0
    for i in range(n):
        for j in range(n):
            s += i * j
    return s


total = 0
for rep in range(2):
    total += grid_sum(3000)
print(total)
