-- Measures: a list comprehension with a filter — [x * x for x in range(N) if x % 3], N = 1,000,000, ten times.
-- Lua has no comprehensions: the table is filled by a loop, as its programmers write it.
local function squares(n)
    local xs = {}
    local k = 0
    for x = 0, n - 1 do
        if x % 3 ~= 0 then
            k = k + 1
            xs[k] = x * x
        end
    end
    return xs
end

local total = 0
local count = 0
for rep = 1, 10 do
    local xs = squares(1000000)
    count = count + #xs
    total = total + xs[#xs]
end
print(count, total)
