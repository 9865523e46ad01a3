--! lib
--[[
  Counts one queue's parts and the age of its first queued job. Reads group heads only: the cost
  is the number of groups. Never fails on a broken record (it is skipped here; claims set it aside).

  Returns { queued, handedOff, claimed, quarantined, oldestQueuedAgeMs, delayed, nextDelayedDueMs (-1: none) }.
]]
local now = nowMs()
local function count(kind)
  local total, first, firstId = 0, nil, nil
  for _, group in ipairs(redis.call('SMEMBERS', BASE .. ':' .. kind .. 'g')) do
    local listKey = BASE .. ':' .. kind .. ':' .. group
    total = total + redis.call('LLEN', listKey)
    local id = redis.call('LINDEX', listKey, 0)
    local pos = id and tonumber((try('HGET', jobKey(id), 'n')))
    if pos and (not first or pos < first) then first, firstId = pos, id end
  end
  return total, firstId
end
local queued, firstId = count('q')
local handedOff = count('h')
local age = 0
if firstId then
  local at = tonumber((try('HGET', jobKey(firstId), 't')))
  if at then age = math.max(0, now - at) end
end
local nextDue = -1
local soonest = redis.call('ZRANGE', BASE .. ':delayed', 0, 0, 'WITHSCORES')
if soonest[2] then nextDue = math.max(0, tonumber(soonest[2]) - now) end
return {
  queued, handedOff, redis.call('ZCARD', BASE .. ':leases'), tonumber(redis.call('HGET', META, 'bad') or '0'), age,
  redis.call('ZCARD', BASE .. ':delayed'), nextDue,
}
