--[[
  Takes a job back from its owner: to the head of the main queue with attempts + 1 (requeue, reap),
  or to the tail of the hand-off queue (hand-off). Wakes waiting handlers. A requeue with a delay
  parks the job in the delayed set instead (due time as score); the claim script moves it to the
  head of the main queue once it is due, and no wake-up is sent for it now.

  KEYS[1] job        hash: the job record
  KEYS[2] leases     zset: claimed job id -> lease end (ms)
  KEYS[3] target     zset: the main queue or the hand-off queue
  KEYS[4] meta       hash: `tail` / `head` score counters
  KEYS[5] delayed    zset: job id -> time it is due (ms)

  ARGV[1] mode: 'requeue', 'handoff' or 'reap'
  ARGV[2] owner ('' for 'reap': any owner)
  ARGV[3] fencing token
  ARGV[4] reason
  ARGV[5] job id
  ARGV[6] wake-up channel
  ARGV[7] delay, ms ('requeue' only; 0 = none)

  Returns 1, or -1 when the lease is lost (for 'reap': when the lease was renewed or taken since).
]]
local mode = ARGV[1]
local delayMs = tonumber(ARGV[7]) or 0
local cur = redis.call('HMGET', KEYS[1], 'owner', 'token', 'state', 'leaseUntil')
if cur[3] ~= 'claimed' or cur[2] ~= ARGV[3] then return -1 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if mode == 'reap' then
  if tonumber(cur[4] or 0) > now then return -1 end
elseif cur[1] ~= ARGV[2] then
  return -1
end

redis.call('ZREM', KEYS[2], ARGV[5])
if mode == 'handoff' then
  local score = redis.call('HINCRBY', KEYS[4], 'tail', 1)
  redis.call('HSET', KEYS[1], 'state', 'handed_off', 'phase', 'queued', 'handedOffBy', cur[1], 'lastReason', ARGV[4])
  redis.call('ZADD', KEYS[3], score, ARGV[5])
else
  redis.call('HSET', KEYS[1], 'state', 'queued', 'phase', 'queued', 'lastReason', ARGV[4])
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  redis.call('HDEL', KEYS[1], 'vmName', 'runnerId')
  if mode == 'requeue' and delayMs > 0 then
    redis.call('HSET', KEYS[1], 'notBefore', now + delayMs)
    redis.call('ZADD', KEYS[5], now + delayMs, ARGV[5])
    redis.call('HDEL', KEYS[1], 'owner', 'leaseUntil')
    return 1
  end
  local score = redis.call('HINCRBY', KEYS[4], 'head', -1)
  redis.call('ZADD', KEYS[3], score, ARGV[5])
end
redis.call('HDEL', KEYS[1], 'owner', 'leaseUntil')
redis.call('PUBLISH', ARGV[6], ARGV[5])
return 1
