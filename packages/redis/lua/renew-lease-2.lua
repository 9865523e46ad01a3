--[[
  Extends a lease when the caller still owns the job (same owner and fencing token).

  KEYS[1] job        hash: the job record
  KEYS[2] leases     zset: claimed job id -> lease end (ms)

  ARGV[1] owner
  ARGV[2] fencing token
  ARGV[3] new lease length, ms
  ARGV[4] job id

  Returns the new lease end (ms), or -1 when the lease is lost.
]]
local cur = redis.call('HMGET', KEYS[1], 'owner', 'token', 'state')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] or cur[3] ~= 'claimed' then return -1 end
local t = redis.call('TIME')
local leaseUntil = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'leaseUntil', leaseUntil)
redis.call('ZADD', KEYS[2], leaseUntil, ARGV[4])
return leaseUntil
