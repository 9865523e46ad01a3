--! lib
--[[
  Writes back the record of a job the caller holds after the store lost it (a Redis restarted
  without its data, a record deleted by hand): claimed by the caller, with its fencing token and a
  new lease. When the record is there and held by the caller, only the lease is renewed (a retry
  after a lost reply). Nothing is written when the job is finished, quarantined, or has a record
  the caller does not hold.

  ARGV[3] owner   ARGV[4] fencing token   ARGV[5] lease length, ms   ARGV[6] job id
  ARGV[7] enqueued at (ms)   ARGV[8] attempts   ARGV[9] phase   ARGV[10] VM name ('' for none)
  ARGV[11] runner id ('' for none)   ARGV[12] repository owner ('' for none)   ARGV[13] template ('' for none)
  ARGV[14] last reason ('' for none)   ARGV[15] number of events n, then n pairs (action, event JSON)
  ARGV[16 + 2n ..] the payload JSON in pieces of at most 63 bytes

  Returns the new lease end (ms), or a refusal code (< 0, see _lib.lua).
]]
local owner, token, leaseMs, id = ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
local now = nowMs()
local leaseUntil = now + leaseMs

local rec, why = readRecord(id)
if rec then
  if rec.s ~= 'c' or rec.w ~= owner or rec.k ~= token then return LEASE_LOST end
  redis.call('HSET', jobKey(id), 'l', leaseUntil)
  redis.call('ZADD', BASE .. ':leases', leaseUntil, id)
  return leaseUntil
end
-- A key that exists but cannot be read is quarantined here; a tombstone refuses.
if why ~= 'missing' then return (refusalWithout(id, why)) end
local done = redis.call('GET', doneKey(id))
if done == QUARANTINED_MARK then return JOB_QUARANTINED end
if done then return JOB_FINISHED end

local fields = { 'v', 2, 's', 'c', 't', ARGV[7], 'k', token, 'w', owner, 'l', leaseUntil }
if ARGV[8] ~= '0' then fields[#fields + 1] = 'a'; fields[#fields + 1] = ARGV[8] end
if ARGV[9] ~= 'queued' then fields[#fields + 1] = 'f'; fields[#fields + 1] = ARGV[9] end
if ARGV[10] ~= '' then fields[#fields + 1] = 'x'; fields[#fields + 1] = ARGV[10] end
if ARGV[11] ~= '' then fields[#fields + 1] = 'r'; fields[#fields + 1] = ARGV[11] end
local gid = groupId(ARGV[12], ARGV[13])
if gid then fields[#fields + 1] = 'g'; fields[#fields + 1] = gid end
if ARGV[14] ~= '' then fields[#fields + 1] = 'y'; fields[#fields + 1] = ARGV[14] end
local events = tonumber(ARGV[15])
for i = 1, events do
  fields[#fields + 1] = 'e:' .. ARGV[14 + 2 * i]
  fields[#fields + 1] = ARGV[15 + 2 * i]
end
local first = 16 + 2 * events
for i = first, #ARGV do
  fields[#fields + 1] = tostring(i - first)
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', jobKey(id), unpack(fields))
redis.call('ZADD', BASE .. ':leases', leaseUntil, id)
tlAppend(id, now, { type = 'restored', by = owner })
tlState(id, now, 'running')
return leaseUntil
