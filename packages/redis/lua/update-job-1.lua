--! lib
--[[
  Records progress (phase, VM name, runner id) on an owned job.

  ARGV[3] owner   ARGV[4] fencing token   ARGV[5] job id
  ARGV[6..] field, value pairs (record field names); an empty value deletes the field

  Returns 1, or a refusal code (< 0).
]]
local id = ARGV[5]
local rec, code = owned(id, ARGV[3], ARGV[4])
if not rec then return code end
for i = 6, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', jobKey(id), ARGV[i])
  else
    redis.call('HSET', jobKey(id), ARGV[i], ARGV[i + 1])
  end
end
return OK
