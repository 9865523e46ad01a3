--! lib
--[[
  Registers a waiter as idle, so that the next enqueue (or requeue, hand-off) wakes it and no
  other. When the queue changed since the caller's last fruitless claim, it is not registered:
  the caller looks again at once.

  ARGV[3] waiter token   ARGV[4] how long the wait lasts, ms   ARGV[5] change counter seen by
  the caller's last fruitless claim ('' when unknown)   ARGV[6] '1' for an active waiter (its
  claim just found nothing), '0' for a passive one (woken only when no active waiter is idle)

  Returns 1 when registered, 0 when the queue changed (look again now).
]]
if ARGV[5] ~= '' and (redis.call('HGET', META, 'seq') or '0') ~= ARGV[5] then return 0 end
local ends = nowMs() + tonumber(ARGV[4])
redis.call('ZADD', BASE .. ':idle', ARGV[6] == '1' and ends or ends + PASSIVE, ARGV[3])
return 1
