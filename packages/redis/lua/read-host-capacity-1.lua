--[[
  The live capacity records (see put-host-capacity-1.lua); those that ran out are dropped.

  KEYS[1] capacity hash   host id -> `<until ms>|<record JSON>`

  Returns { host id, record JSON, host id, record JSON, ... }.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local flat = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #flat, 2 do
  local untilMs, json = string.match(flat[i + 1], '^(%d+)|(.*)$')
  if untilMs and tonumber(untilMs) > now then
    out[#out + 1] = flat[i]
    out[#out + 1] = json
  else
    redis.call('HDEL', KEYS[1], flat[i])
  end
end
return out
