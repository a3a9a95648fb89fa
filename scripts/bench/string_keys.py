# Measures: a map with string keys — 200k prebuilt keys inserted, then all looked up, 20 times
# (the keys are built once, before the timed loop's repetitions).
def make_keys(n):
    keys = []
    for i in range(n):
        keys.append("key" + str(i))
    return keys


def insert_and_lookup(keys):
    m = {}
    i = 0
    for k in keys:
        m[k] = i
        i += 1
    s = 0
    for k in keys:
        s += m[k]
    return len(m), s


keys = make_keys(200_000)
count = 0
total = 0
for rep in range(20):
    c, s = insert_and_lookup(keys)
    count += c
    total += s
print(count, total)
