--! lib
--[[
  Registers a waiter as idle, so that the next enqueue (or requeue, hand-off) wakes it and no
  other. When the queue changed since the caller's last fruitless claim, it is not registered:
  the caller looks again at once.

  ARGV[3] waiter token   ARGV[4] how long the wait lasts, ms   ARGV[5] change counter seen by
  the caller's last fruitless claim ('' when unknown)

  Returns 1 when registered, 0 when the queue changed (look again now).
]]
if ARGV[5] ~= '' and (redis.call('HGET', META, 'seq') or '0') ~= ARGV[5] then return 0 end
redis.call('ZADD', BASE .. ':idle', nowMs() + tonumber(ARGV[4]), ARGV[3])
return 1
