--[[
  Records that a host has just written its metrics snapshot, on the Redis server's clock (host
  clocks may disagree), and forgets hosts that have not written for longer than the snapshot TTL.

  KEYS[1] host index   zset: snapshot key ending (`<owner>/<name>`) -> last write (ms, server clock)

  ARGV[1] the host's key ending
  ARGV[2] snapshot TTL, ms: an entry older than this has no snapshot left to read

  Returns the score written (server ms).
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[2])))
return now
