--[[
  Sets an unreadable job record aside: out of every queue part, renamed to a `bad:` key, and noted
  in the quarantine list (capped at 1000 notes).

  KEYS[1] job        hash: the job record
  KEYS[2] bad        the name the record is moved to
  KEYS[3] quarantine list: notes (JSON)
  KEYS[4] queued     zset
  KEYS[5] handoff    zset
  KEYS[6] leases     zset
  KEYS[7] delayed    zset

  ARGV[1] job id
  ARGV[2] reason

  Returns 1.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 4, 7 do redis.call('ZREM', KEYS[i], ARGV[1]) end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('RENAME', KEYS[1], KEYS[2]) end
redis.call('LPUSH', KEYS[3], cjson.encode({ key = KEYS[1], jobId = ARGV[1], reason = ARGV[2], at = now }))
redis.call('LTRIM', KEYS[3], 0, 999)
return 1
