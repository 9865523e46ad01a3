--[[
  Extends a leadership when the caller still holds it with the same token.

  KEYS[1] lock       string: `<owner>:<token>`

  ARGV[1] `<owner>:<token>`
  ARGV[2] TTL, ms

  Returns 1, or 0 when the lock is lost.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
