--[[
  Records progress (phase, VM name, runner id) on an owned job.

  KEYS[1] job        hash: the job record

  ARGV[1] owner
  ARGV[2] fencing token
  ARGV[3..] field, value pairs; an empty value deletes the field

  Returns 1, or -1 when the lease is lost.
]]
local cur = redis.call('HMGET', KEYS[1], 'owner', 'token', 'state')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] or cur[3] ~= 'claimed' then return -1 end
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 1
