--[[
  Records a GitHub event (`in_progress`, `completed`) against a known job.

  KEYS[1] job        hash: the job record

  ARGV[1] event action (the field becomes `ev:<action>`)
  ARGV[2] event (JSON)
  ARGV[3] events channel (optional): published with ARGV[4], the job id, so its handler wakes
  ARGV[4] job id

  Returns 1, or 0 when the job is unknown (nothing is written).
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'ev:' .. ARGV[1], ARGV[2])
if ARGV[3] and ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return 1
