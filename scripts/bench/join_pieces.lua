-- Measures: building a long string the idiomatic way — 1M pieces from a 16-entry table
-- appended to a list (table) and joined with table.concat, 20 times.
local PIECES = {
    "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy",
    "dog", ", ", "and", "then", "sleeps", "; ", "zzz", "!\n",
}

local function count_lines(s)
    local _, newlines = string.gsub(s, "\n", "")
    return newlines + 1
end

local function build(n)
    local parts = {}
    for i = 0, n - 1 do
        parts[#parts + 1] = PIECES[i % 16 + 1]
    end
    return table.concat(parts)
end

local total = 0
local s = ""
for rep = 1, 20 do
    s = build(1000000)
    total = total + #s
end
print(total .. " " .. count_lines(s))
