-- Measures: calling a method of an object (a table with a metatable) that updates one of its
-- fields — 5M calls of `c:add(i)`, twice.
local Counter = {}
Counter.__index = Counter

function Counter.new()
    return setmetatable({count = 0}, Counter)
end

function Counter:add(k)
    self.count = self.count + k
end

local function run(n)
    local c = Counter.new()
    for i = 0, n - 1 do
        c:add(i)
    end
    return c.count
end

local total = 0
for rep = 1, 2 do
    total = total + run(5000000)
end
print(total)
