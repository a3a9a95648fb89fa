# Measures: a map with sparse int keys — 1M keys i * 7919 inserted, then all looked up, 3 times.
def insert_and_lookup(n):
    m = {}
    for i in range(n):
        m[i * 7919] = i
    s = 0
    for i in range(n):
        s += m[i * 7919]
    return len(m), s


count = 0
total = 0
for rep in range(3):
    c, s = insert_and_lookup(1_000_000)
    count += c
    total += s
print(count, total)
