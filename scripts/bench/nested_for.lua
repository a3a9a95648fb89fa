-- Measures: nested `for` loops over ranges — 3000 x 3000 iterations of `s += i * j`, twice.
local function grid_sum(n)
    local s = 0
    for i = 0, n - 1 do
        for j = 0, n - 1 do
            s = s + i * j
        end
    end
    return s
end

local total = 0
for rep = 1, 2 do
    total = total + grid_sum(3000)
end
print(total)
