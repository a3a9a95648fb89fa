-- Measures: int-to-string conversion and join — tostring(i) for i in 0..1M, joined with ",",
-- 6 times.
local function numbers_csv(n)
    local parts = {}
    for i = 0, n - 1 do
        parts[#parts + 1] = tostring(i)
    end
    return table.concat(parts, ",")
end

local total = 0
local s = ""
for rep = 1, 6 do
    s = numbers_csv(1000000)
    total = total + #s
end
print(total .. " " .. string.sub(s, #s - 13))
