# Measures: building a long string naively — 1M pieces from a 16-entry table added with
# `s += piece`, 20 times.
PIECES = [
    "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy",
    "dog", ", ", "and", "then", "sleeps", "; ", "zzz", "!\n",
]


def build(n):
    s = ""
    for i in range(n):
        s += PIECES[i % 16]
    return s


total = 0
s = ""
for rep in range(20):
    s = build(1_000_000)
    total += len(s)
print(total, len(s.split("\n")))
