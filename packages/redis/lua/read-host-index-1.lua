--[[
  Reads the host index for the aggregator, first dropping hosts silent for longer than the caller's
  limit, and returns the server's clock with it so the caller can turn scores into ages.

  KEYS[1] host index   zset: snapshot key ending -> last write (ms, server clock)

  ARGV[1] most age kept, ms (0: keep everything)

  Returns { server now (ms), { member, score, member, score, ... } }.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxAge = tonumber(ARGV[1])
if maxAge > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - maxAge))
end
return { now, redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES') }
