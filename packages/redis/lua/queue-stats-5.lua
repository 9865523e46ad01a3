--[[
  Counts one queue's parts and the age of its first queued job.

  KEYS[1] queued     zset
  KEYS[2] handoff    zset
  KEYS[3] leases     zset
  KEYS[4] quarantine list

  ARGV[1] job key prefix

  Returns { queued, handedOff, claimed, quarantined, oldestQueuedAgeMs }.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local age = 0
local first = redis.call('ZRANGE', KEYS[1], 0, 0)
if first[1] then
  local at = tonumber(redis.call('HGET', ARGV[1] .. first[1], 'enqueuedAt'))
  if at then age = math.max(0, now - at) end
end
return { redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]), redis.call('LLEN', KEYS[4]), age }
