--! lib
--[[
  Appends an event to a job's timeline (see _lib.lua), stamped with the server's time, when the
  store has the job or its timeline. The job's timeline state does not change.

  ARGV[3] job id   ARGV[4] the event (JSON without `at`, cleaned of secrets by the store)

  Returns 1, or 0 when the store has neither the job nor its timeline (nothing is written).
]]
local id = ARGV[3]
if redis.call('EXISTS', jobKey(id), tlKey(id)) == 0 then return 0 end
tlAppend(id, nowMs(), ARGV[4])
return 1
