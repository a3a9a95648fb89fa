-- Measures: calling a closure that updates a captured variable (an upvalue) — 5M calls, twice.
local function make_accumulator()
    local total = 0
    return function(k)
        total = total + k
        return total
    end
end

local function run(n)
    local acc = make_accumulator()
    local last = 0
    for i = 0, n - 1 do
        last = acc(i)
    end
    return last
end

local total = 0
for rep = 1, 2 do
    total = total + run(5000000)
end
print(total)
