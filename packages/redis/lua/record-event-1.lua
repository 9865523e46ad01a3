--! lib
--[[
  Records a GitHub event (`in_progress`, `completed`) against a known job and publishes the job
  id on the queue's events channel, so that its handler wakes.

  ARGV[3] event action (the field becomes `e:<action>`)   ARGV[4] event (JSON)   ARGV[5] job id
  ARGV[6] the timeline event for it (JSON without `at`, cleaned by the store; '' for none)

  Returns 1, or 0 when the job is unknown or its record unreadable (nothing is written).
]]
local id = ARGV[5]
if redis.call('EXISTS', jobKey(id)) == 0 then return 0 end
if not try('HSET', jobKey(id), 'e:' .. ARGV[3], ARGV[4]) then return 0 end
if (ARGV[6] or '') ~= '' then tlAppend(id, nowMs(), ARGV[6]) end
redis.call('PUBLISH', BASE .. ':events', id)
return 1
