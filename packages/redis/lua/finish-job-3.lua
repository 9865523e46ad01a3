--[[
  Ends a job: removes its record and lease and leaves a tombstone so that a late redelivery of the
  same job is refused. Idempotent for its owner: finishing twice returns 1 twice.

  KEYS[1] job        hash: the job record
  KEYS[2] leases     zset: claimed job id -> lease end (ms)
  KEYS[3] done       string: tombstone

  ARGV[1] owner ('' when the reaper finishes an expired lease)
  ARGV[2] fencing token
  ARGV[3] outcome
  ARGV[4] how long the tombstone lives, ms
  ARGV[5] job id

  Returns 1, or -1 when the lease is lost.
]]
local cur = redis.call('HMGET', KEYS[1], 'owner', 'token', 'state')
if not cur[2] then
  if redis.call('GET', KEYS[3]) == ARGV[1] .. ':' .. ARGV[2] .. ':' .. ARGV[3] then return 1 end
  return -1
end
if cur[2] ~= ARGV[2] or cur[3] ~= 'claimed' then return -1 end
if ARGV[1] ~= '' and cur[1] ~= ARGV[1] then return -1 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[5])
redis.call('SET', KEYS[3], ARGV[1] .. ':' .. ARGV[2] .. ':' .. ARGV[3], 'PX', ARGV[4])
return 1
