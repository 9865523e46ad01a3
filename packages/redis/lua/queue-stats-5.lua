--[[
  Counts one queue's parts and the age of its first queued job.

  KEYS[1] queued     zset
  KEYS[2] handoff    zset
  KEYS[3] leases     zset
  KEYS[4] quarantine list
  KEYS[5] delayed    zset: job id -> time it is due (ms)

  ARGV[1] job key prefix

  Returns { queued, handedOff, claimed, quarantined, oldestQueuedAgeMs, delayed, nextDelayedDueMs (-1: none) }.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local age = 0
local first = redis.call('ZRANGE', KEYS[1], 0, 0)
if first[1] then
  local at = tonumber(redis.call('HGET', ARGV[1] .. first[1], 'enqueuedAt'))
  if at then age = math.max(0, now - at) end
end
local nextDue = -1
local soonest = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
if soonest[2] then nextDue = math.max(0, tonumber(soonest[2]) - now) end
return {
  redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]), redis.call('LLEN', KEYS[4]), age,
  redis.call('ZCARD', KEYS[5]), nextDue,
}
