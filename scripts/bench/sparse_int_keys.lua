-- Measures: a map with sparse int keys — 1M keys i * 7919 inserted, then all looked up, 3 times.
local function insert_and_lookup(n)
    local m = {}
    local size = 0
    for i = 0, n - 1 do
        local k = i * 7919
        if m[k] == nil then size = size + 1 end
        m[k] = i
    end
    local s = 0
    for i = 0, n - 1 do
        s = s + m[i * 7919]
    end
    return size, s
end

local count = 0
local total = 0
for rep = 1, 3 do
    local c, s = insert_and_lookup(1000000)
    count = count + c
    total = total + s
end
print(count .. " " .. total)
