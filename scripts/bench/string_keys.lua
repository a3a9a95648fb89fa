-- Measures: a map with string keys — 200k prebuilt keys inserted, then all looked up, 20 times
-- (the keys are built once, before the timed loop's repetitions).
local function make_keys(n)
    local keys = {}
    for i = 0, n - 1 do
        keys[#keys + 1] = "key" .. tostring(i)
    end
    return keys
end

local function insert_and_lookup(keys)
    local m = {}
    local size = 0
    for i, k in ipairs(keys) do
        if m[k] == nil then size = size + 1 end
        m[k] = i - 1
    end
    local s = 0
    for _, k in ipairs(keys) do
        s = s + m[k]
    end
    return size, s
end

local keys = make_keys(200000)
local count = 0
local total = 0
for rep = 1, 20 do
    local c, s = insert_and_lookup(keys)
    count = count + c
    total = total + s
end
print(count .. " " .. total)
