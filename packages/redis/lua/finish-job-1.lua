--! lib
--[[
  Ends a job: removes its record and lease and leaves a tombstone `<owner>:<token>:<outcome>`, so
  that a late redelivery is refused and the same finish repeated (a retry after a lost reply)
  succeeds. Any other call on a finished job is refused with "job finished".

  ARGV[3] owner ('' when the reaper finishes an expired lease)   ARGV[4] fencing token
  ARGV[5] outcome   ARGV[6] job id   ARGV[7] the outcome as the timeline keeps it ('' = ARGV[5])

  Appends `finished` (with the outcome as its conclusion) to the job's timeline, which is then
  kept for the history bound (see _lib.lua).

  Returns 1, or a refusal code (< 0).
]]
local id, owner, token, outcome = ARGV[6], ARGV[3], ARGV[4], ARGV[5]
local rec, code, done = owned(id, owner, token)
if not rec then
  if code == JOB_FINISHED and done == owner .. ':' .. token .. ':' .. outcome then return OK end
  return code
end
if owner == '' and tonumber(rec.l) > nowMs() then return LEASE_LOST end
local now = nowMs()
local conclusion = ARGV[7] or ''
if conclusion == '' then conclusion = string.sub(outcome, 1, 200) end
tlAppend(id, now, { type = 'finished', by = owner ~= '' and owner or nil, conclusion = conclusion })
tlFinished(id, now)
redis.call('DEL', jobKey(id))
redis.call('ZREM', BASE .. ':leases', id)
redis.call('SET', doneKey(id), owner .. ':' .. token .. ':' .. outcome, 'PX', TOMBSTONE_MS)
return OK
