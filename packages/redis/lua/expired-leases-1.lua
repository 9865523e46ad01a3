--[[
  Lists jobs whose lease ended (read only; the reaper then returns or finishes each one, fenced).

  KEYS[1] leases     zset: claimed job id -> lease end (ms)

  ARGV[1] job key prefix
  ARGV[2] most jobs to return

  Returns a list of { id, hash fields and values... }, oldest lease end first.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local record = redis.call('HGETALL', ARGV[1] .. id)
  table.insert(record, 1, id)
  table.insert(out, record)
end
return out
