--[[
  Registers an instance name for a holder with a TTL (the host's heartbeat), unless another holder
  has it. The holder itself may call again: its TTL starts again. With a `replace` holder, the name
  is taken from exactly that holder (the caller knows it is gone) and from nobody else.

  KEYS[1] name       string: the holder's JSON, with PX TTL

  ARGV[1] holder JSON
  ARGV[2] TTL, ms
  ARGV[3] holder JSON to replace ('' for none)

  Returns { 1 }, or { 0, current holder JSON, ms left } when someone else holds the name.
]]
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] and (ARGV[3] == '' or cur ~= ARGV[3]) then
  return { 0, cur, redis.call('PTTL', KEYS[1]) }
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return { 1 }
