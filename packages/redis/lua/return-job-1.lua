--! lib
--[[
  Takes a job back from its owner: to the head of its main-queue group with attempts + 1
  (requeue, reap), or to the tail of its hand-off group (hand-off), and wakes one idle waiter. A
  requeue with a delay parks the job in the delayed set (due time as score) instead; the claim
  script moves it to the head once due, and no wake-up is sent for it now.

  ARGV[3] mode: 'requeue', 'handoff' or 'reap'
  ARGV[4] owner ('' for 'reap': any owner)   ARGV[5] fencing token   ARGV[6] reason
  ARGV[7] job id   ARGV[8] delay, ms ('requeue' only; 0 = none)
  ARGV[9] '0': a requeue that does not count as an attempt (a host fault); anything else counts
  ARGV[10] the reason as the timeline keeps it (cleaned of secrets by the store; '' = ARGV[6])

  Appends `handed_back` (by the owner, with the reason and the mode) to the job's timeline.

  Returns 1, or a refusal code (< 0; for 'reap': lease lost when renewed or taken since).
]]
local mode, id, reason = ARGV[3], ARGV[7], ARGV[6]
local delayMs = tonumber(ARGV[8]) or 0
local rec, code = owned(id, mode == 'reap' and '' or ARGV[4], ARGV[5])
if not rec then return code end
local now = nowMs()
if mode == 'reap' and tonumber(rec.l) > now then return LEASE_LOST end
local key = jobKey(id)
redis.call('ZREM', BASE .. ':leases', id)
local tlReason = ARGV[10] or ''
if tlReason == '' then tlReason = string.sub(reason, 1, 200) end
tlAppend(id, now, { type = 'handed_back', by = rec.w, reason = tlReason, detail = mode == 'handoff' and 'hand_off' or mode })
tlState(id, now, 'queued')
if mode == 'handoff' then
  local pos = redis.call('HINCRBY', META, 'tail', 1)
  local g = handoffGroupName(rec.w, rec.o, rec.m)
  redis.call('HSET', key, 's', 'h', 'b', rec.w, 'y', reason, 'n', pos)
  redis.call('HDEL', key, 'w', 'l', 'f')
  redis.call('RPUSH', BASE .. ':h:' .. g, id)
  redis.call('SADD', BASE .. ':hg', g)
  wakeOne(now)
  return OK
end
if not (mode == 'requeue' and ARGV[9] == '0') then redis.call('HINCRBY', key, 'a', 1) end
redis.call('HSET', key, 'y', reason)
redis.call('HDEL', key, 'x', 'r', 'w', 'l')
if mode == 'requeue' and delayMs > 0 then
  redis.call('HSET', key, 's', 'd', 'z', now + delayMs)
  redis.call('HDEL', key, 'f')
  redis.call('ZADD', BASE .. ':delayed', now + delayMs, id)
  return OK
end
toQueue(id, rec, true)
wakeOne(now)
return OK
