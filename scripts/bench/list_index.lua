-- Measures: list append and indexing — append 5M ints to a table, then sum them by index, twice.
local function fill_and_sum(n)
    local xs = {}
    for i = 0, n - 1 do
        xs[#xs + 1] = i
    end
    local s = 0
    for i = 1, #xs do
        s = s + xs[i]
    end
    return s
end

local total = 0
for rep = 1, 2 do
    total = total + fill_and_sum(5000000)
end
print(total)
