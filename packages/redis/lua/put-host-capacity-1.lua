--[[
  Publishes one host's capacity record for template affinity (what it holds, its free VM slots),
  stamped with when it runs out on the Redis server's clock (host clocks may disagree), and drops
  the records that ran out. A hash field cannot expire on its own before Redis 7.4, so the end is
  kept in the value.

  KEYS[1] capacity hash   host id -> `<until ms>|<record JSON>`

  ARGV[1] host id
  ARGV[2] record JSON (host name, templates, free slots)
  ARGV[3] time to live, ms
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do
  local untilMs = tonumber(string.match(flat[i + 1], '^(%d+)|'))
  if not untilMs or untilMs <= now then redis.call('HDEL', KEYS[1], flat[i]) end
end
redis.call('HSET', KEYS[1], ARGV[1], (now + tonumber(ARGV[3])) .. '|' .. ARGV[2])
return 1
