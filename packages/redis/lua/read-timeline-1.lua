--! lib
--[[
  Reads timelines (see _lib.lua); writes nothing. A job with a record but no list (only enqueued,
  or stored before timelines existed) reads as `received` and `queued` at its enqueue time.

  ARGV[3] 'one': ARGV[4] job id. Returns { state, since, event JSON... }, or {} when the store
          has no timeline for the job (or only one past the history bound).
  ARGV[3] 'list': ARGV[4] state ('queued', 'running', 'finished'), ARGV[5] limit. Returns
          { id, since, first event JSON, last event JSON, ... }, newest first; jobs whose
          timeline is gone are left out.
]]
local now = nowMs()
local horizon = now - TL_AGE_MS

-- The events a job without a list has: from its record's enqueue time (nil without a record).
local function fromRecord(id)
  local t = tonumber((try('HGET', jobKey(id), 't')))
  if not t then return nil end
  return { cjson.encode({ type = 'received', at = t }), cjson.encode({ type = 'queued', at = t }) }, t
end

if ARGV[3] == 'one' then
  local id = ARGV[4]
  local events = try('LRANGE', tlKey(id), 0, -1) or {}
  local enqueuedAt
  if #events == 0 then
    events, enqueuedAt = fromRecord(id)
    if not events then return {} end
  end
  for _, state in ipairs({ 'running', 'queued', 'finished' }) do
    local since = try('ZSCORE', TL_SETS[state], id)
    if since then
      if state == 'finished' and tonumber(since) < horizon then return {} end
      local out = { state, since }
      for _, e in ipairs(events) do out[#out + 1] = e end
      return out
    end
  end
  -- In no set: a job stored before timelines existed.
  if not enqueuedAt then return {} end
  local out = { try('HGET', jobKey(id), 's') == 'c' and 'running' or 'queued', enqueuedAt }
  for _, e in ipairs(events) do out[#out + 1] = e end
  return out
end

local set = TL_SETS[ARGV[4]]
if not set then return {} end
local limit = tonumber(ARGV[5])
local low = ARGV[4] == 'finished' and tostring(horizon) or '-inf'
local out = {}
local offset = 0
-- Entries whose list and record are gone (expired, removed by hand) are stepped over; the walk is bounded.
for _ = 1, 4 do
  local rows = try('ZREVRANGEBYSCORE', set, '+inf', low, 'WITHSCORES', 'LIMIT', offset, limit) or {}
  for i = 1, #rows, 2 do
    local id = rows[i]
    local first = try('LINDEX', tlKey(id), 0)
    local last = try('LINDEX', tlKey(id), -1)
    if not first then
      local events = fromRecord(id)
      if events then first, last = events[1], events[2] end
    end
    if first and last then
      out[#out + 1] = id
      out[#out + 1] = rows[i + 1]
      out[#out + 1] = first
      out[#out + 1] = last
      if #out >= limit * 4 then return out end
    end
  end
  if #rows < limit * 2 then return out end
  offset = offset + limit
end
return out
