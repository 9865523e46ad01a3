--! lib
--[[
  Sets a job aside as unreadable. With an owner: only when the caller holds the lease (the
  handler found its payload has the wrong shape). Without one ('' owner and token): whatever
  state it is in (the store could not decode what a read script returned).

  ARGV[3] owner ('' = no lease check)   ARGV[4] fencing token   ARGV[5] job id   ARGV[6] reason
  ARGV[7] the reason as the timeline keeps it (cleaned by the store; none: ARGV[6])

  Returns 1, or a refusal code (< 0).
]]
local id, owner, token, reason = ARGV[5], ARGV[3], ARGV[4], ARGV[6]
if owner ~= '' then
  local rec, code = owned(id, owner, token)
  if not rec then return code end
  quarantine(id, reason, rec, nil, ARGV[7] ~= '' and ARGV[7] or nil)
  return OK
end
local rec, why = readRecord(id)
if not rec and why == 'missing' then return JOB_NOT_FOUND end
quarantine(id, reason, rec, nil, ARGV[7] ~= '' and ARGV[7] or nil)
return OK
