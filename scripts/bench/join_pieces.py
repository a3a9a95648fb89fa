# Measures: building a long string the idiomatic way — 1M pieces from a 16-entry table
# appended to a list and joined with "".join, 20 times.
PIECES = [
    "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy",
    "dog", ", ", "and", "then", "sleeps", "; ", "zzz", "!\n",
]


def build(n):
    parts = []
    for i in range(n):
        parts.append(PIECES[i % 16])
    return "".join(parts)


total = 0
s = ""
for rep in range(20):
    s = build(1_000_000)
    total += len(s)
print(total, len(s.split("\n")))
