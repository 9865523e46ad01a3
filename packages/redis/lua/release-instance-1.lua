--[[
  Gives an instance name up when the caller still holds it.

  KEYS[1] name       string: the holder's JSON

  ARGV[1] holder JSON

  Returns 1, or 0 when it was not the caller's (nothing is deleted).
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
