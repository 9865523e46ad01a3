--! lib
--[[
  Moves one batch of a queue written by an older anklet (format 1: `queued` / `handoff` sorted
  sets, one `job:<id>` hash with long field names and the payload in one field) to format 2, in
  queue order. A record that cannot be read is quarantined with its key and reason. The store
  calls this until it returns 1 before it uses a queue, once per process.

  ARGV[3] queue name   ARGV[4] most jobs to move in this call

  Returns 1 when the queue is in format 2 (and marks it so), 0 when there is more to move.
]]
if redis.call('HGET', META, 'fmt') == '2' then return 1 end
-- Older stores counted the notes; the count goes on from there.
if not redis.call('HGET', META, 'bad') then redis.call('HSET', META, 'bad', redis.call('LLEN', BASE .. ':quarantine')) end
local queueName = ARGV[3]
local budget = tonumber(ARGV[4])

local V1_FIELDS = {
  id = true, queue = true, payload = true, attempts = true, phase = true, state = true, enqueuedAt = true, token = true,
  deliveryId = true, repositoryOwner = true, template = true, owner = true, leaseUntil = true, vmName = true,
  runnerId = true, handedOffBy = true, lastReason = true, notBefore = true,
}
local RENAMED = { owner = 'w', leaseUntil = 'l', vmName = 'x', runnerId = 'r', handedOffBy = 'b', lastReason = 'y', notBefore = 'z' }
local INTS = { attempts = true, enqueuedAt = true, token = true, leaseUntil = true, notBefore = true }

local function why1(id, rec)
  if not rec.id then return 'missing id' end
  if rec.id ~= id then return 'id does not match its key' end
  if not rec.queue then return 'missing queue' end
  if rec.queue ~= queueName then return 'queue does not match its key' end
  if not rec.payload then return 'missing payload' end
  for field, value in pairs(rec) do
    if INTS[field] then
      if not string.match(value, '^%-?%d+$') then return 'field ' .. field .. ' is not an integer' end
    elseif not (V1_FIELDS[field] or string.sub(field, 1, 3) == 'ev:') then
      return 'unexpected field ' .. field
    end
  end
  if rec.phase and not PHASES[rec.phase] then return 'unknown phase ' .. rec.phase end
  if not pcall(cjson.decode, rec.payload) then return 'payload is not JSON' end
  return nil
end

-- Rewrites job `id` in format 2 with state `s` (position `pos` for the lists); false if quarantined.
local function convert(id, s, pos)
  local oldKey = BASE .. ':job:' .. id
  local flat, err = try('HGETALL', oldKey)
  if not flat then quarantine(id, 'not a hash: ' .. tostring(err), nil, oldKey); return false end
  if #flat == 0 then
    if redis.call('EXISTS', doneKey(id)) == 0 then quarantine(id, 'job record missing', nil, oldKey) end
    return false
  end
  local rec = {}
  for i = 1, #flat, 2 do rec[flat[i]] = flat[i + 1] end
  local why = why1(id, rec)
  if why then quarantine(id, why, nil, oldKey); return false end
  local fields = { 'v', 2, 's', s, 't', rec.enqueuedAt or nowMs() }
  if rec.phase and rec.phase ~= 'queued' then fields[#fields + 1] = 'f'; fields[#fields + 1] = rec.phase end
  if rec.token and rec.token ~= '0' then fields[#fields + 1] = 'k'; fields[#fields + 1] = rec.token end
  if rec.attempts and rec.attempts ~= '0' then fields[#fields + 1] = 'a'; fields[#fields + 1] = rec.attempts end
  if pos then fields[#fields + 1] = 'n'; fields[#fields + 1] = pos end
  local gid = groupId(rec.repositoryOwner, rec.template)
  if gid then fields[#fields + 1] = 'g'; fields[#fields + 1] = gid end
  for old, new in pairs(RENAMED) do
    if rec[old] and rec[old] ~= '' and not (new == 'b' and s ~= 'h') then fields[#fields + 1] = new; fields[#fields + 1] = rec[old] end
  end
  for field, value in pairs(rec) do
    if string.sub(field, 1, 3) == 'ev:' then fields[#fields + 1] = 'e:' .. string.sub(field, 4); fields[#fields + 1] = value end
  end
  for i, piece in ipairs(pieces(rec.payload)) do fields[#fields + 1] = tostring(i - 1); fields[#fields + 1] = piece end
  redis.call('DEL', oldKey)
  redis.call('HSET', jobKey(id), unpack(fields))
  return true, rec
end

local moved = 0
for _, part in ipairs({ { 'queued', 'q' }, { 'handoff', 'h' } }) do
  local old = BASE .. ':' .. part[1]
  if budget > moved then
    local page = redis.call('ZRANGE', old, 0, budget - moved - 1, 'WITHSCORES')
    for i = 1, #page, 2 do
      local id, pos = page[i], page[i + 1]
      redis.call('ZREM', old, id)
      local ok, rec = convert(id, part[2], pos)
      if ok then
        local g = part[2] == 'q' and groupName(rec.repositoryOwner, rec.template) or handoffGroupName(rec.handedOffBy, rec.repositoryOwner, rec.template)
        redis.call('RPUSH', BASE .. ':' .. part[2] .. ':' .. g, id)
        redis.call('SADD', BASE .. ':' .. part[2] .. 'g', g)
      end
      moved = moved + 1
    end
  end
end
-- Claimed and delayed jobs keep their sorted sets; only their records change format.
for _, part in ipairs({ { 'leases', 'c' }, { 'delayed', 'd' } }) do
  for _, id in ipairs(redis.call('ZRANGE', BASE .. ':' .. part[1], 0, -1)) do
    if moved < budget and redis.call('EXISTS', BASE .. ':job:' .. id) == 1 then
      if not convert(id, part[2], nil) then redis.call('ZREM', BASE .. ':' .. part[1], id) end
      moved = moved + 1
    end
  end
end
if moved > 0 then return 0 end
redis.call('HSET', META, 'fmt', '2')
return 1
