--[[
  Takes a fleet-wide leadership when it is free (SET NX PX), with a fencing token from a counter
  that only grows. The holder itself may call again: it keeps its token and gets a fresh TTL.

  KEYS[1] lock       string: `<owner>:<token>`
  KEYS[2] fence      string: counter

  ARGV[1] owner
  ARGV[2] TTL, ms

  Returns the token, or nil when someone else holds the lock.
]]
local cur = redis.call('GET', KEYS[1])
if cur then
  local holder, token = string.match(cur, '^(.*):(%d+)$')
  if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(token)
  end
  return nil
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'NX', 'PX', ARGV[2])
return token
