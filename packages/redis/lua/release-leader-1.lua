--[[
  Gives a leadership up when the caller still holds it with the same token.

  KEYS[1] lock       string: `<owner>:<token>`

  ARGV[1] `<owner>:<token>`

  Returns 1, or 0 when it was not ours (nothing is deleted).
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
