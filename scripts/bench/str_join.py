# Measures: int-to-string conversion and join — str(i) for i in 0..1M, joined with ",", 6 times.
def numbers_csv(n):
    parts = []
    for i in range(n):
        parts.append(str(i))
    return ",".join(parts)


total = 0
s = ""
for rep in range(6):
    s = numbers_csv(1_000_000)
    total += len(s)
print(total, s[len(s) - 14:])
