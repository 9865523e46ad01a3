--! lib
--[[
  Claims the oldest job this handler may take: hand-offs first, then the main queue. Jobs wait in
  one list per group (repository owner, template; for hand-offs also the instance that handed
  off), so the claim reads the head of each group it may take from and takes the lowest position:
  the cost is the number of groups, never the number of jobs it may not take. Skipped job ids are
  stepped over inside a group. Delayed jobs that are due go to the head first (earliest due first).

  ARGV[3] owner (handler instance name)
  ARGV[4] lease length, ms
  ARGV[5..] four counted lists: n, then n values, for
            repository owners allowed, templates refused, job ids skipped, hand-off owners skipped

  Returns { token, field1, value1, ... } of the claimed job's hash (with `id` first), or
  { 'none', <change counter> } when there is nothing to take.
]]
local owner = ARGV[3]
local leaseMs = tonumber(ARGV[4])

local lists, at = {}, 5
for i = 1, 4 do
  local n = tonumber(ARGV[at])
  local set = { n = n }
  for j = 1, n do set[ARGV[at + j]] = true end
  lists[i] = set
  at = at + n + 1
end
local allowedOwners, refusedTemplates, skipIds, skipHandedOffBy = lists[1], lists[2], lists[3], lists[4]

local now = nowMs()

-- Due delayed jobs go to the head, the latest due first so that the earliest due ends up in front.
local due = redis.call('ZRANGEBYSCORE', BASE .. ':delayed', '-inf', now, 'LIMIT', 0, 100)
for i = #due, 1, -1 do
  local id = due[i]
  local rec, why = readRecord(id)
  if not rec then
    redis.call('ZREM', BASE .. ':delayed', id)
    if why ~= 'missing' or redis.call('EXISTS', doneKey(id)) == 0 then quarantine(id, why == 'missing' and 'job record missing' or why, nil) end
  else
    redis.call('ZREM', BASE .. ':delayed', id)
    redis.call('HDEL', jobKey(id), 'z')
    toQueue(id, rec, true)
  end
end

local function allowed(o, m)
  if allowedOwners.n > 0 and o ~= '' and not allowedOwners[o] then return false end
  if m ~= '' and refusedTemplates[m] then return false end
  return true
end

-- Poison met on the way is quarantined and the claim goes on; this bounds the work of one call.
local budget = 100

-- The first id of a group list this claimer may take, with its position; nil when none.
local function head(listKey, setKey, group)
  local from = 0
  while budget > 0 do
    local ids = redis.call('LRANGE', listKey, from, from + 15)
    if #ids == 0 then return nil end
    local restart = false
    for _, id in ipairs(ids) do
      if not skipIds[id] then
        local pos = tonumber((try('HGET', jobKey(id), 'n')))
        if pos then return pos, id end
        -- No readable position: the record is missing or broken. Set it aside and look again.
        budget = budget - 1
        local rec, why = readRecord(id)
        if rec then
          dropFromList(listKey, setKey, group, id) -- readable but not queued here: a stale entry
        else
          quarantine(id, why == 'missing' and 'job record missing' or why, nil)
        end
        restart = true
        break
      end
      from = from + 1
    end
    if not restart and #ids < 16 then return nil end
  end
  return nil
end

local function take(listKey, setKey, group, id, rec, flat)
  dropFromList(listKey, setKey, group, id)
  local key = jobKey(id)
  local token = redis.call('HINCRBY', key, 'k', 1)
  local leaseUntil = now + leaseMs
  redis.call('HSET', key, 's', 'c', 'f', 'claimed', 'w', owner, 'l', leaseUntil)
  redis.call('HDEL', key, 'n', 'b')
  redis.call('ZADD', BASE .. ':leases', leaseUntil, id)
  tlAppend(id, now, { type = 'claimed', by = owner })
  tlState(id, now, 'running')
  local out = redis.call('HGETALL', key)
  if (rec.o or '') ~= '' then out[#out + 1] = 'o'; out[#out + 1] = rec.o end
  if (rec.m or '') ~= '' then out[#out + 1] = 'm'; out[#out + 1] = rec.m end
  table.insert(out, 1, id)
  table.insert(out, 1, 'id')
  table.insert(out, 1, token)
  return out
end

for _, kind in ipairs({ 'h', 'q' }) do
  local setKey = BASE .. ':' .. kind .. 'g'
  while budget > 0 do
    local best, bestId, bestGroup
    for _, group in ipairs(redis.call('SMEMBERS', setKey)) do
      local ok
      if kind == 'h' then
        local b, o, m = parseHandoffGroup(group)
        ok = allowed(o, m) and not skipHandedOffBy[b]
      else
        ok = allowed(parseGroup(group))
      end
      if ok then
        local pos, id = head(BASE .. ':' .. kind .. ':' .. group, setKey, group)
        if pos and (not best or pos < best) then best, bestId, bestGroup = pos, id, group end
      end
    end
    if not best then break end
    local listKey = BASE .. ':' .. kind .. ':' .. bestGroup
    local rec, flat = readRecord(bestId)
    if rec and rec.s == kind then return take(listKey, setKey, bestGroup, bestId, rec, flat) end
    budget = budget - 1
    if rec then dropFromList(listKey, setKey, bestGroup, bestId) else quarantine(bestId, flat == 'missing' and 'job record missing' or flat, nil) end
  end
end
if budget <= 0 then return { 'again', 0 } end
return { 'none', tonumber(redis.call('HGET', META, 'seq') or '0') }
