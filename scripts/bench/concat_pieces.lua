-- Measures: building a long string naively — 1M pieces from a 16-entry table added with
-- `s = s .. piece`, 20 times.  (Quadratic in Lua, which copies on every concatenation.)
local PIECES = {
    "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy",
    "dog", ", ", "and", "then", "sleeps", "; ", "zzz", "!\n",
}

local function count_lines(s)
    local _, newlines = string.gsub(s, "\n", "")
    return newlines + 1
end

local function build(n)
    local s = ""
    for i = 0, n - 1 do
        s = s .. PIECES[i % 16 + 1]
    end
    return s
end

local total = 0
local s = ""
for rep = 1, 20 do
    s = build(1000000)
    total = total + #s
end
print(total .. " " .. count_lines(s))
