--[[
  Records that a host has just written its metrics snapshot, on the Redis server's clock (host
  clocks may disagree), and forgets hosts that have not written for longer than the horizon (the
  index stays bounded even when no aggregator ever reads it).

  KEYS[1] host index   zset: snapshot key ending (`<owner>/<name>`) -> last write (ms, server clock)

  ARGV[1] the host's key ending
  ARGV[2] horizon, ms: the longest snapshot TTL in use (an older entry has no snapshot left)

  Returns the score written (server ms).
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[2])))
return now
