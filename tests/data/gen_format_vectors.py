#!/usr/bin/env python3
"""Writes format_vectors.txt: CPython 3.11's answers for src/format.rs to match.

Run once with CPython 3.11 (`python3 tests/data/gen_format_vectors.py`); the output is
committed and read by the unit tests in src/format.rs. Deterministic (fixed seed).

Line formats (tab-separated):
  R <f64 bits as hex> <repr(x)>
  F <kind> <value> <spec> <format(value, spec), or !message when it raises ValueError>
kind: i (int, decimal), f (float, bits as hex), s (str), b (bool: true/false), n (nil).
toy's bool and nil are not numbers: they format as the strings "true"/"false"/"nil".
"""
import math
import random
import struct
import sys

assert sys.version_info[:2] == (3, 11), "expected values must come from CPython 3.11"

rng = random.Random(20240611)
out = []


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def from_bits(b):
    return struct.unpack("<d", struct.pack("<Q", b))[0]


def rand_float():
    r = rng.random()
    if r < 0.25:
        x = from_bits(rng.getrandbits(64))
    elif r < 0.5:
        x = round(rng.uniform(-1, 1) * 10 ** rng.randint(-8, 20), rng.randint(0, 12))
    elif r < 0.6:
        x = float(rng.randint(-10**17, 10**17))
    elif r < 0.7:
        # near the fixed/exponent switch points and on halfway cases
        x = rng.choice([1e16, 1e15, 1e-4, 1e-5, 9.999999999999999e15, 0.0001, 0.00011,
                        123456789012345.0, 1234567890123456.0, 12345678901234567.0,
                        0.5, 1.5, 2.5, 0.125, 0.375, 2.675, 1.005, 1e22, 1e23, 5e-324,
                        2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 0.2, 0.3])
        x *= rng.choice([1, -1, 10, 0.1, 100])
    elif r < 0.8:
        x = rng.choice([0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.0, 100.0])
    else:
        x = rng.uniform(-1000, 1000) * 10 ** rng.randint(-30, 30)
    return x


def rand_int():
    r = rng.random()
    if r < 0.3:
        return rng.randint(-1000, 1000)
    if r < 0.6:
        return rng.randint(-10**9, 10**9)
    if r < 0.9:
        return rng.randint(-2**63, 2**63 - 1)
    return rng.choice([0, -1, 1, 2**63 - 1, -2**63, 255, -255, 1234567, 10**18])


def rand_spec(types):
    parts = []
    if rng.random() < 0.35:
        if rng.random() < 0.5:
            parts.append(rng.choice(["*", "0", " ", "x", "é", "_", ",", "-", "=", "<"]))
        parts.append(rng.choice("<>^="))
    if rng.random() < 0.3:
        parts.append(rng.choice("+- "))
    if rng.random() < 0.08:
        parts.append("z")
    if rng.random() < 0.12:
        parts.append("#")
    if rng.random() < 0.2:
        parts.append("0")
    if rng.random() < 0.5:
        parts.append(str(rng.randint(0, 30)))
    if rng.random() < 0.2:
        parts.append(rng.choice([",", "_", ",", "_,", ",_"]))
    if rng.random() < 0.45:
        parts.append("." + str(rng.choice([0, 1, 2, 3, 5, 6, 10, 15, 16, 17, 20, 25])))
    if rng.random() < 0.02:
        parts.append(".")
    if rng.random() < 0.85:
        parts.append(rng.choice(types))  # "" in the list: no type
    if rng.random() < 0.02:
        parts.append(rng.choice(["q", "dd", "!", "c"]))
    return "".join(parts)


def expect(value, spec, type_name=None):
    try:
        return format(value, spec)
    except ValueError as e:
        msg = str(e)
        if type_name is not None:
            msg = msg.replace("'str'", "'%s'" % type_name)
        return "!" + msg


NUM_TYPES = list("deEfFgGn%xXobs") + ["d", "d", "x", "", ""]
FLOAT_TYPES = list("eEfFgGn%d") + ["f", "f", "e", "g", "%", "", "", ""]
STR_TYPES = ["s"] * 6 + ["d", "x", "f", "", ""]

for _ in range(2000):
    x = rand_float()
    out.append("R\t%016x\t%s" % (bits(x), repr(x)))
for _ in range(3000):
    x = rand_float()
    spec = rand_spec(FLOAT_TYPES)
    if rng.random() < 0.05:
        spec = ""
    out.append("F\tf\t%016x\t%s\t%s" % (bits(x), spec, expect(x, spec)))
for _ in range(2000):
    n = rand_int()
    spec = rand_spec(NUM_TYPES)
    if "c" in spec:
        continue  # toy has no 'c'
    if rng.random() < 0.05:
        spec = ""
    out.append("F\ti\t%d\t%s\t%s" % (n, spec, expect(n, spec)))
WORDS = ["", "a", "hello", "héllo wörld", "日本語", "toy", "x" * 40, "tab", "😀 ok"]
for _ in range(500):
    s = rng.choice(WORDS)
    spec = rand_spec(STR_TYPES)
    if rng.random() < 0.05:
        spec = ""
    out.append("F\ts\t%s\t%s\t%s" % (s, spec, expect(s, spec)))
for _ in range(200):
    v = rng.choice([True, False, None])
    text = {True: "true", False: "false", None: "nil"}[v]
    type_name = "nil" if v is None else "bool"
    spec = rand_spec(STR_TYPES)
    kind = "n" if v is None else "b"
    out.append("F\t%s\t%s\t%s\t%s" % (kind, text, spec, expect(text, spec, type_name)))

for line in out:
    assert "\n" not in line and line.count("\t") in (2, 4), repr(line)
with open(__file__.replace("gen_format_vectors.py", "format_vectors.txt"), "w") as f:
    f.write("\n".join(out) + "\n")
print(len(out), "vectors")
