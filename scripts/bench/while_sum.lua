-- Measures: a plain `while` loop with a counter and an accumulator — summing 0..10M, twice.
local function sum_below(n)
    local s = 0
    local i = 0
    while i < n do
        s = s + i
        i = i + 1
    end
    return s
end

local total = 0
for rep = 1, 2 do
    total = total + sum_below(10000000)
end
print(total)
