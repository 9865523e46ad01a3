--! lib
--[[
  Extends a lease when the caller still holds it (same owner and fencing token).

  ARGV[3] owner   ARGV[4] fencing token   ARGV[5] new lease length, ms   ARGV[6] job id

  Returns the new lease end (ms), or a refusal code (< 0, see _lib.lua).
]]
local id = ARGV[6]
local rec, code = owned(id, ARGV[3], ARGV[4])
if not rec then return code end
local leaseUntil = nowMs() + tonumber(ARGV[5])
redis.call('HSET', jobKey(id), 'l', leaseUntil)
redis.call('ZADD', BASE .. ':leases', leaseUntil, id)
return leaseUntil
